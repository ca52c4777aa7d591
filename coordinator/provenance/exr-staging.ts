import { readFileSync, writeFileSync } from "node:fs";
import { ExrUnsupportedError, removeExrText, withExrText } from "../../shared/media/exr-header-attribute.ts";
import { exrPixelsOf } from "../../shared/provenance/exr-pixel-hash.ts";
import { PROVENANCE_KEYWORD, type FramePixels } from "../../shared/provenance/provenance-manifest.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { rewriteSyncLater } from "../sink/durable-fs.ts";

/**
 * The sink's EXR half of provenance. A PNG's record is appended at its end,
 * but an EXR's goes into its header, in front of the pixels: so the frame is
 * staged as it arrives without an fsync (as a PNG's head is), and at the
 * commit, once its record is signed, the staged file is written again with
 * the record in its header and fsynced: still one fsync per frame, before the
 * commit answers. Its pixel hash (the stored chunks' sha256) is taken on
 * arrival: one sha256 over bytes already in memory, no decode.
 */

export interface StagedExrFile {
  path: string;
  /** sha256 of the file without a record: the EXR as the agent sent it, unless it already held one. */
  exrSha256: string;
  pixels: FramePixels;
}

/**
 * Writes the EXR to `path` without any `nightshift` record an agent may have
 * put in it, no fsync. Undefined (nothing written) for a valid EXR of a kind
 * that is not stamped (multi-part, deep, an unknown compression): the caller
 * stages it as is. A broken EXR throws ExrFormatError.
 */
export function stageExr(path: string, data: Uint8Array, sha256: string): StagedExrFile | undefined {
  let clean: Buffer;
  try {
    clean = removeExrText(data, PROVENANCE_KEYWORD);
  } catch (err) {
    if (err instanceof ExrUnsupportedError) return undefined;
    throw err;
  }
  const pixels: FramePixels = { ...exrPixelsOf(clean), by: "coordinator" };
  writeFileSync(path, clean, { flag: "wx", mode: 0o644 });
  // The record names the file without it: the agent's bytes, or less a record it sent (a copied header).
  const exrSha256 = clean.length === data.length ? sha256.toLowerCase() : sha256Bytes(clean);
  return { path, exrSha256, pixels };
}

/**
 * Writes the staged EXR again with `record` in its header (as it was when
 * there is none) and starts its one fsync; `sha256` is of the bytes written,
 * the file the commit renames into place (the job's manifest.json lists it).
 */
export function stampStagedExr(path: string, record: string | undefined): { durable: Promise<void>; sha256: string } {
  const staged = readFileSync(path);
  const bytes = record === undefined ? staged : withExrText(staged, PROVENANCE_KEYWORD, record);
  return { ...rewriteSyncLater(path, 0, bytes), sha256: sha256Bytes(bytes) };
}
