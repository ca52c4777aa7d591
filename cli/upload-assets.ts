import { createReadStream } from "node:fs";
import type { Control } from "./control-client.ts";

/**
 * Sends files to the coordinator's asset store by content: asks which of them
 * the store lacks (Control.MissingAssets), then streams only those
 * (Control.PutAsset), each once even when several entries share its bytes.
 * Used by submit for a Blender scene's tree and a ComfyUI step's input images.
 */

export interface LocalAsset {
  sha256: string;
  size: number;
  /** Where the bytes are on this machine. */
  local: string;
}

/** Uploads what the store lacks; answers how many files and bytes were sent. */
export async function uploadAssets(control: Control, files: readonly LocalAsset[]): Promise<{ files: number; bytes: number }> {
  if (files.length === 0) return { files: 0, bytes: 0 };
  const { assets: missing } = await control.missingAssets(files.map(({ sha256, size }) => ({ sha256, size })));
  const wanted = new Set(missing.map((a) => a.sha256));
  let sent = 0;
  let bytes = 0;
  for (const f of files) {
    if (!wanted.delete(f.sha256)) continue;
    await control.putAsset({ sha256: f.sha256, size: f.size }, createReadStream(f.local, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
    sent += 1;
    bytes += f.size;
  }
  return { files: sent, bytes };
}
