/**
 * Energy from power samples by the trapezoid rule. Pure; no I/O.
 *
 * Samples may arrive unsorted or with repeated timestamps (two readers, a
 * sampler that returned the same reading twice). They are put in order, and
 * samples sharing one timestamp are merged into their mean. Samples whose
 * time or watts is not a finite number, or whose watts is negative, are
 * dropped: a power reading cannot be negative, so such a value is a fault.
 */

export interface PowerSample {
  /** Milliseconds on any clock, as long as all samples use the same one. */
  tMs: number;
  watts: number;
}

export interface TimeWindow {
  startMs: number;
  endMs: number;
}

/** Sorted by time, one sample per timestamp (mean watts of duplicates), invalid samples dropped. */
export function normalizePowerSamples(samples: readonly PowerSample[]): PowerSample[] {
  const valid = samples.filter(
    (s) => Number.isFinite(s.tMs) && Number.isFinite(s.watts) && s.watts >= 0,
  );
  valid.sort((a, b) => a.tMs - b.tMs);
  const out: PowerSample[] = [];
  let i = 0;
  while (i < valid.length) {
    const first = valid[i] as PowerSample;
    let sum = 0;
    let n = 0;
    while (i < valid.length && (valid[i] as PowerSample).tMs === first.tMs) {
      sum += (valid[i] as PowerSample).watts;
      n += 1;
      i += 1;
    }
    out.push({ tMs: first.tMs, watts: sum / n });
  }
  return out;
}

/** Linear interpolation between two samples at time t (a.tMs <= t <= b.tMs). */
export function interpolateWatts(a: PowerSample, b: PowerSample, tMs: number): number {
  if (b.tMs === a.tMs) return (a.watts + b.watts) / 2;
  return a.watts + ((b.watts - a.watts) * (tMs - a.tMs)) / (b.tMs - a.tMs);
}

/**
 * Joules between consecutive samples, trapezoid rule.
 *
 * With a window, only the part of the series inside [startMs, endMs] counts:
 * the edges are cut by linear interpolation between the neighbouring samples.
 * Parts of the window before the first or after the last sample are not
 * counted (no extrapolation): sample at the window's edges to cover it.
 * Fewer than two samples give 0.
 */
export function integratePower(samples: readonly PowerSample[], window?: TimeWindow): number {
  const s = normalizePowerSamples(samples);
  if (s.length < 2) return 0;
  const first = s[0] as PowerSample;
  const last = s[s.length - 1] as PowerSample;
  const lo = window === undefined ? first.tMs : Math.max(window.startMs, first.tMs);
  const hi = window === undefined ? last.tMs : Math.min(window.endMs, last.tMs);
  if (!(hi > lo)) return 0;
  let joules = 0;
  for (let i = 0; i + 1 < s.length; i += 1) {
    const a = s[i] as PowerSample;
    const b = s[i + 1] as PowerSample;
    const x = Math.max(a.tMs, lo);
    const y = Math.min(b.tMs, hi);
    if (y <= x) continue;
    const wx = interpolateWatts(a, b, x);
    const wy = interpolateWatts(a, b, y);
    joules += ((wx + wy) / 2) * ((y - x) / 1000);
  }
  return joules;
}

/** Mean power over the covered part of the window: joules / covered seconds; null without an interval. */
export function meanPower(samples: readonly PowerSample[], window?: TimeWindow): number | null {
  const s = normalizePowerSamples(samples);
  if (s.length < 2) return null;
  const lo = Math.max(window?.startMs ?? -Infinity, (s[0] as PowerSample).tMs);
  const hi = Math.min(window?.endMs ?? Infinity, (s[s.length - 1] as PowerSample).tMs);
  if (!(hi > lo)) return null;
  return integratePower(s, { startMs: lo, endMs: hi }) / ((hi - lo) / 1000);
}
