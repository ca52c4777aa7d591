/**
 * Runs inside the pixel hasher's worker thread (pixel-hasher.ts): decodes each
 * PNG it is sent and answers with its pixel hash, so the decode (the one
 * costly part of a frame's provenance) never runs on the coordinator's event
 * loop.
 */
import { parentPort } from "node:worker_threads";
import { pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import { nameThisThread } from "../../shared/thread-name.ts";

nameThisThread("ns-pixel-hash");

parentPort?.on("message", (m: { id: number; png: Uint8Array }) => {
  try {
    parentPort?.postMessage({ id: m.id, pixels: pixelsOf(m.png) });
  } catch (err) {
    parentPort?.postMessage({ id: m.id, error: (err as Error).message });
  }
});
