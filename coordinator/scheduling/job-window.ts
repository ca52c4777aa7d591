import type { JobSpec } from "../../shared/job-spec/index.ts";

const DAY = 24 * 3600 * 1000;
const MIN = 60_000;

/** Local time minus UTC at an instant, ms (shared/accounting/zone-offset.ts gives one per time zone). */
export type OffsetAt = (tMs: number) => number;

export type JobWindow = JobSpec["window"];

function localMinutes(tMs: number, offset: OffsetAt): number {
  const local = tMs + offset(tMs);
  return Math.floor((((local % DAY) + DAY) % DAY) / MIN);
}

/** The first instant at or after `fromMs` at which the local clock reads `minutes` past midnight. */
export function nextLocalTime(fromMs: number, minutes: number, offset: OffsetAt): number {
  const off = offset(fromMs);
  const local = fromMs + off;
  let candidate = Math.floor(local / DAY) * DAY + minutes * MIN;
  if (candidate < local) candidate += DAY;
  let t = candidate - offset(candidate - off);
  if (t < fromMs) t += DAY;
  return t;
}

function inside(m: number, from: number, to: number): boolean {
  return from <= to ? m >= from && m < to : m >= from || m < to;
}

/**
 * When a job may start. Without `notBefore`: at once. With a whole window
 * (`notBefore` and `doneBy`, across midnight when doneBy is earlier), at once
 * when the job was submitted inside it, else at the next `notBefore`. With
 * only `notBefore`: at its first occurrence at or after submission.
 */
export function windowOpensAt(win: JobWindow, createdAtMs: number, offset: OffsetAt): number {
  if (win.notBeforeMinutes === null) return createdAtMs;
  if (win.doneByMinutes !== null && inside(localMinutes(createdAtMs, offset), win.notBeforeMinutes, win.doneByMinutes)) return createdAtMs;
  return nextLocalTime(createdAtMs, win.notBeforeMinutes, offset);
}

/** Whether a job with this window is held (not dispatched) at `nowMs`, as assessWindow() says; without notBefore, never. */
export function windowHolds(win: JobWindow | undefined, createdAtMs: number, nowMs: number, offset: OffsetAt): boolean {
  return win !== undefined && win.notBeforeMinutes !== null && nowMs < windowOpensAt(win, createdAtMs, offset);
}

/** The `doneBy` the job is held to: its first occurrence after the window opens; null without doneBy. */
export function windowDeadline(win: JobWindow, opensAtMs: number, offset: OffsetAt): number | null {
  return win.doneByMinutes === null ? null : nextLocalTime(opensAtMs + 1, win.doneByMinutes, offset);
}

/** "2025-01-01 22:00" in local time. */
export function formatLocal(tMs: number, offset: OffsetAt): string {
  return new Date(tMs + offset(tMs)).toISOString().slice(0, 16).replace("T", " ");
}

function formatDuration(ms: number): string {
  const m = Math.max(0, Math.round(ms / MIN));
  return m >= 60 ? `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m` : `${m}m`;
}

export interface WindowAssessment {
  /** True until the window opens: the job's chunks are not dispatched. */
  held: boolean;
  opensAtMs: number;
  deadlineMs: number | null;
  /** Estimated finish from the measured speeds; null when no speed is known. */
  etaMs: number | null;
  /** True when the estimate is past `doneBy`. */
  late: boolean;
  /** For the job's message; null when there is nothing to say. */
  note: string | null;
}

/**
 * Where a job stands against its window at `nowMs`: held until `notBefore`,
 * and late when the estimated finish (remaining frames at the summed measured
 * speed of the agents that may run it, from when it can start) is past
 * `doneBy`.
 */
export function assessWindow(
  win: JobWindow,
  createdAtMs: number,
  nowMs: number,
  offset: OffsetAt,
  remainingFrames: number,
  framesPerSecond: number,
): WindowAssessment {
  const opensAtMs = windowOpensAt(win, createdAtMs, offset);
  const held = nowMs < opensAtMs;
  const deadlineMs = windowDeadline(win, opensAtMs, offset);
  const etaMs = framesPerSecond > 0 ? Math.max(nowMs, opensAtMs) + (remainingFrames / framesPerSecond) * 1000 : null;
  const late = deadlineMs !== null && etaMs !== null && etaMs > deadlineMs;
  const notes: string[] = [];
  if (held) notes.push(`waiting for window.notBefore ${win.notBefore} (${formatLocal(opensAtMs, offset)}, in ${formatDuration(opensAtMs - nowMs)})`);
  if (late && etaMs !== null) {
    notes.push(
      `window.doneBy ${win.doneBy} cannot be met: estimated finish ${formatLocal(etaMs, offset)} ` +
        `(${remainingFrames} frames left at ${framesPerSecond.toFixed(1)} frames/s)`,
    );
  }
  return { held, opensAtMs, deadlineMs, etaMs, late, note: notes.length > 0 ? notes.join("; ") : null };
}
