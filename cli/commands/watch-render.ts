import type { JobView } from "../../proto/gen/nightshift/v1/control.ts";

/** One status line: a bar, frames, state. */
export function renderProgress(v: JobView, width = 30): string {
  const frac = v.framesTotal > 0 ? v.framesDone / v.framesTotal : 0;
  const filled = Math.round(frac * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  return `${v.id} [${bar}] ${v.framesDone}/${v.framesTotal} frames  ${v.state}${v.chunksFailed ? `  ${v.chunksFailed} failed` : ""}`;
}

/** "4m 05s", "39s", "1h 02m", "?" when unknown (negative). */
export function formatEta(seconds: number): string {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function bar(done: number, total: number, width: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(frac * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/**
 * The `nightshift watch` screen for one job view: a bar for the job (frames,
 * percent, frames/s, ETA, state), then one line per agent working on it or
 * having worked on it: a bar for the chunk it runs now (or "idle"), its frames
 * committed for the job, its measured frames/s and the ETA of its chunk.
 * Speculative copies are marked. Pure: the CLI redraws these lines.
 */
export function renderWatch(v: JobView, width = 30): string[] {
  const pct = v.framesTotal > 0 ? Math.floor((100 * v.framesDone) / v.framesTotal) : 0;
  const head = [
    `${v.id}  ${v.name}  ${v.state}`,
    `${bar(v.framesDone, v.framesTotal, width)} ${String(pct).padStart(3)}%  ${v.framesDone}/${v.framesTotal} frames`,
    v.framesPerSecond > 0 ? `${v.framesPerSecond.toFixed(1)} frames/s` : "",
    v.state === "done" ? "" : `ETA ${formatEta(v.etaSeconds)}`,
    v.chunksFailed ? `${v.chunksFailed} failed` : "",
  ].filter((x) => x !== "");
  const lines = [head.slice(0, 2).join("  "), `  ${head.slice(2).join("  ")}`.trimEnd()].filter((l) => l.trim() !== "");
  if (v.message) lines.push(`  ${v.message}`);
  if (v.agents.length === 0) return lines;
  const nameWidth = Math.max(5, ...v.agents.map((a) => a.name.length));
  const chunkWidth = Math.max(8, Math.floor(width / 2));
  lines.push(`  ${pad("agent", nameWidth)}  ${pad("chunk", chunkWidth + 10)}  ${pad("frames", 7)}  ${pad("frames/s", 8)}  chunk ETA`);
  for (const a of v.agents) {
    const chunk = a.chunkId
      ? `${bar(a.chunkFramesDone, a.chunkFramesTotal, chunkWidth)} ${`${a.chunkFramesDone}/${a.chunkFramesTotal}`.padStart(7)}`
      : pad("idle", chunkWidth + 10);
    const fps = a.framesPerSecond > 0 ? a.framesPerSecond.toFixed(1) : "?";
    const eta = a.chunkId ? `${formatEta(a.etaSeconds)}${a.speculative ? " (copy)" : ""}${a.frameDetail ? `  ${a.frameDetail}` : ""}` : "";
    lines.push(`  ${pad(a.name, nameWidth)}  ${pad(chunk, chunkWidth + 10)}  ${pad(String(a.framesDone), 7)}  ${pad(fps, 8)}  ${eta}`.trimEnd());
  }
  return lines;
}
