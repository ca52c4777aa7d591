/**
 * Reads Blender's console output, one line at a time, into what the executor
 * acts on: live progress inside a frame (Cycles' `Sample 32/64`, EEVEE's
 * `Rendering 26 / 64 samples`) and `Saved: '...'`, the line Blender prints
 * once a frame's file is completely written. Pure, so it is tested with real
 * lines captured from Blender 3.4 (test/fixtures/blender/).
 */

export type BlenderLine =
  | { type: "progress"; frame: number; fraction: number; detail: string }
  | { type: "saved"; path: string };

/** `Fra:12 Mem:9.71M (Peak 10.33M) | Time:00:00.30 | ... | Scene, ViewLayer | Sample 3/8` */
const FRAME_STATUS = /^Fra:(-?\d+)\s.*\|\s*([^|]*?)\s*$/;
/** Cycles 3.x `Sample 3/8` (2.9x: `Rendered 2/16 Tiles, Sample 3/8`). */
const CYCLES_SAMPLE = /\bSample (\d+)\/(\d+)/;
/** EEVEE `Rendering 26 / 64 samples`. */
const EEVEE_SAMPLE = /^Rendering (\d+) \/ (\d+) samples$/;
/** `Saved: '/abs/path/frame_0001.png'` (3.x quotes with ', 4.x with "). */
const SAVED = /^Saved: (['"])(.+)\1\s*$/;

/** What `line` says, or null for the many lines that matter only to the log. */
export function parseBlenderLine(line: string): BlenderLine | null {
  const saved = SAVED.exec(line);
  if (saved !== null) return { type: "saved", path: saved[2] ?? "" };
  const status = FRAME_STATUS.exec(line);
  if (status === null) return null;
  const frame = Number(status[1]);
  const detail = status[2] ?? "";
  if (detail === "Finished") return { type: "progress", frame, fraction: 1, detail };
  const sample = CYCLES_SAMPLE.exec(detail) ?? EEVEE_SAMPLE.exec(detail);
  if (sample === null) return null;
  const done = Number(sample[1]);
  const total = Number(sample[2]);
  if (!(total > 0)) return null;
  return { type: "progress", frame, fraction: Math.min(1, done / total), detail };
}
