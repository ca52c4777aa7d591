/**
 * Idle baseline: what the node would have drawn doing nothing over the same
 * wall time. Reported next to the measured energy, never folded into it and
 * never negative. Pure; no I/O.
 */

export interface IdleSplit {
  /** The measured energy, unchanged (0 if it was not a non-negative number). */
  totalJoules: number;
  /** idleWatts x wallSeconds; 0 when the baseline is unknown. */
  idleJoules: number;
  /** totalJoules - idleJoules, floored at 0. */
  aboveIdleJoules: number;
}

function nonNegative(x: number | null | undefined): number {
  return typeof x === "number" && Number.isFinite(x) && x > 0 ? x : 0;
}

/** Baseline watts x wall seconds. Unknown, negative or non-finite inputs give 0. */
export function idleEnergyJoules(idleWatts: number | null | undefined, wallSeconds: number): number {
  return nonNegative(idleWatts) * nonNegative(wallSeconds);
}

/** Splits a measured energy into the idle baseline and what lies above it. */
export function splitIdle(
  totalJoules: number,
  idleWatts: number | null | undefined,
  wallSeconds: number,
): IdleSplit {
  const total = nonNegative(totalJoules);
  const idle = idleEnergyJoules(idleWatts, wallSeconds);
  return { totalJoules: total, idleJoules: idle, aboveIdleJoules: Math.max(0, total - idle) };
}

/**
 * A measured baseline from power readings taken while the node was idle: the
 * median, so that one busy moment (a cron job, a fan spin-up) does not move
 * it. Null when there is no valid reading.
 */
export function idleWattsFromReadings(watts: readonly number[]): number | null {
  const v = watts.filter((w) => Number.isFinite(w) && w >= 0).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}
