import { interpolateWatts, type PowerSample } from "./integrate-power.ts";

/**
 * Fixed-size buckets of telemetry, small enough to keep a month of history
 * per node (a month of 1-minute buckets is 43 200 rows). Pure; no I/O.
 *
 * Buckets are aligned to originMs + k x bucketMs. Energy is the trapezoid
 * integral of power, cut at bucket edges by linear interpolation, so the sum
 * over buckets equals the integral of the whole series. Pairs of samples
 * further apart than maxGapMs are not bridged (the agent was off or silent):
 * no energy is invented for the gap. Only buckets with at least one sample or
 * some energy are returned.
 */

export interface TelemetrySample {
  tMs: number;
  /** Null when the reading was not available. */
  watts: number | null;
  memoryBytes: number | null;
}

export interface TelemetryBucket {
  startMs: number;
  bucketMs: number;
  /** Samples whose time falls in the bucket. */
  samples: number;
  minWatts: number | null;
  /** Arithmetic mean of the power readings in the bucket (not time-weighted). */
  meanWatts: number | null;
  maxWatts: number | null;
  energyJoules: number;
  maxMemoryBytes: number | null;
}

export interface DownsampleOptions {
  bucketMs: number;
  /** Bucket grid origin; 0 aligns buckets to the Unix epoch (UTC). */
  originMs?: number;
  /** Longest gap between two power samples that is still integrated. Default: one bucket. */
  maxGapMs?: number;
}

interface Acc extends TelemetryBucket {
  wattsSum: number;
  wattsCount: number;
}

function emptyBucket(startMs: number, bucketMs: number): TelemetryBucket {
  return { startMs, bucketMs, samples: 0, minWatts: null, meanWatts: null, maxWatts: null, energyJoules: 0, maxMemoryBytes: null };
}

/** A usable power reading: present, finite, not negative. */
function validWatts(watts: number | null): watts is number {
  return watts !== null && Number.isFinite(watts) && watts >= 0;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

function minOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

export function downsample(samples: readonly TelemetrySample[], options: DownsampleOptions): TelemetryBucket[] {
  const { bucketMs } = options;
  if (!(Number.isFinite(bucketMs) && bucketMs > 0)) throw new RangeError(`bucketMs must be > 0, got ${bucketMs}`);
  const origin = options.originMs ?? 0;
  const maxGap = options.maxGapMs ?? bucketMs;
  const buckets = new Map<number, Acc>();
  const bucketOf = (tMs: number): Acc => {
    const k = Math.floor((tMs - origin) / bucketMs);
    let b = buckets.get(k);
    if (b === undefined) {
      b = { ...emptyBucket(origin + k * bucketMs, bucketMs), wattsSum: 0, wattsCount: 0 };
      buckets.set(k, b);
    }
    return b;
  };

  const sorted = samples.filter((s) => Number.isFinite(s.tMs)).sort((a, b) => a.tMs - b.tMs);
  for (const s of sorted) {
    const b = bucketOf(s.tMs);
    b.samples += 1;
    const w = s.watts;
    if (validWatts(w)) {
      b.minWatts = minOrNull(b.minWatts, w);
      b.maxWatts = maxOrNull(b.maxWatts, w);
      b.wattsSum += w;
      b.wattsCount += 1;
    }
    if (s.memoryBytes !== null && Number.isFinite(s.memoryBytes)) b.maxMemoryBytes = maxOrNull(b.maxMemoryBytes, s.memoryBytes);
  }

  const power: PowerSample[] = sorted
    .flatMap((s) => (validWatts(s.watts) ? [{ tMs: s.tMs, watts: s.watts }] : []));
  for (let i = 0; i + 1 < power.length; i += 1) {
    const a = power[i] as PowerSample;
    const b = power[i + 1] as PowerSample;
    if (b.tMs <= a.tMs || b.tMs - a.tMs > maxGap) continue;
    let x = a.tMs;
    while (x < b.tMs) {
      const acc = bucketOf(x);
      const y = Math.min(b.tMs, acc.startMs + bucketMs);
      acc.energyJoules += ((interpolateWatts(a, b, x) + interpolateWatts(a, b, y)) / 2) * ((y - x) / 1000);
      x = y;
    }
  }

  return [...buckets.values()]
    .sort((p, q) => p.startMs - q.startMs)
    .map(({ wattsSum, wattsCount, ...b }) => ({ ...b, meanWatts: wattsCount > 0 ? wattsSum / wattsCount : null }));
}

/**
 * Coarser buckets from finer ones (e.g. minutes to hours for older history).
 * The new size must be a whole multiple of the old one on the same origin.
 * Means are combined weighted by each bucket's sample count.
 */
export function mergeBuckets(buckets: readonly TelemetryBucket[], bucketMs: number, originMs = 0): TelemetryBucket[] {
  const out = new Map<number, TelemetryBucket & { wattsWeight: number }>();
  for (const b of buckets) {
    if (bucketMs % b.bucketMs !== 0) throw new RangeError(`bucketMs ${bucketMs} is not a multiple of ${b.bucketMs}`);
    const k = Math.floor((b.startMs - originMs) / bucketMs);
    const cur = out.get(k) ?? { ...emptyBucket(originMs + k * bucketMs, bucketMs), wattsWeight: 0 };
    const weight = b.meanWatts === null ? 0 : b.samples;
    const meanWatts =
      weight === 0
        ? cur.meanWatts
        : ((cur.meanWatts ?? 0) * cur.wattsWeight + (b.meanWatts as number) * weight) / (cur.wattsWeight + weight);
    out.set(k, {
      ...cur,
      samples: cur.samples + b.samples,
      minWatts: minOrNull(cur.minWatts, b.minWatts),
      maxWatts: maxOrNull(cur.maxWatts, b.maxWatts),
      meanWatts,
      energyJoules: cur.energyJoules + b.energyJoules,
      maxMemoryBytes: maxOrNull(cur.maxMemoryBytes, b.maxMemoryBytes),
      wattsWeight: cur.wattsWeight + weight,
    });
  }
  return [...out.values()].sort((p, q) => p.startMs - q.startMs).map(({ wattsWeight: _w, ...b }) => b);
}
