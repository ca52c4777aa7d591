import type { JobView } from "../../proto/gen/nightshift/v1/control.ts";

/** One status line: a bar, frames, state. */
export function renderProgress(v: JobView, width = 30): string {
  const frac = v.framesTotal > 0 ? v.framesDone / v.framesTotal : 0;
  const filled = Math.round(frac * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  return `${v.id} [${bar}] ${v.framesDone}/${v.framesTotal} frames  ${v.state}${v.chunksFailed ? `  ${v.chunksFailed} failed` : ""}`;
}
