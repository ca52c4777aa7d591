import { ENERGY_SOURCES, type EnergySource } from "../../shared/accounting/chunk-accounting.ts";

/**
 * One stored telemetry bucket of one agent: what its samples said over
 * [startMs, startMs + bucketMs). Pure helpers to combine buckets (a late
 * sample into a written bucket, minutes into hours).
 */
export interface TelemetryBucketRow {
  agentId: string;
  bucketMs: number;
  startMs: number;
  samples: number;
  /** Samples taken while a chunk ran. */
  busySamples: number;
  /** The part of energyJoules that samples taken while no chunk ran carried. */
  idleEnergyJoules: number;
  /** Samples that had a power reading (the weight of meanWatts). */
  wattsSamples: number;
  minWatts: number | null;
  /** Arithmetic mean of the power readings. */
  meanWatts: number | null;
  maxWatts: number | null;
  energyJoules: number;
  maxVramBytes: number | null;
  maxRamBytes: number | null;
  maxTemperatureC: number | null;
  /** Samples that had a utilisation (the weight of meanUtilisation). */
  utilSamples: number;
  meanUtilisation: number | null;
  /** The weakest source among the samples (estimate < rapl < nvidia-smi < nvml). */
  source: EnergySource;
}

const pick = (f: (a: number, b: number) => number) => (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : f(a, b);
const maxN = pick(Math.max);
const minN = pick(Math.min);

function weightedMean(a: number | null, wa: number, b: number | null, wb: number): number | null {
  const ka = a === null ? 0 : wa;
  const kb = b === null ? 0 : wb;
  if (ka + kb === 0) return null;
  return ((a ?? 0) * ka + (b ?? 0) * kb) / (ka + kb);
}

export function weakerSource(a: EnergySource, b: EnergySource): EnergySource {
  return ENERGY_SOURCES.indexOf(a) >= ENERGY_SOURCES.indexOf(b) ? a : b;
}

/** Two buckets of the same agent combined into `into`'s grid position (a bucket of size bucketMs starting at startMs). */
export function combineBuckets(a: TelemetryBucketRow, b: TelemetryBucketRow, startMs = a.startMs, bucketMs = a.bucketMs): TelemetryBucketRow {
  return {
    agentId: a.agentId,
    bucketMs,
    startMs,
    samples: a.samples + b.samples,
    busySamples: a.busySamples + b.busySamples,
    idleEnergyJoules: a.idleEnergyJoules + b.idleEnergyJoules,
    wattsSamples: (a.meanWatts === null ? 0 : a.wattsSamples) + (b.meanWatts === null ? 0 : b.wattsSamples),
    minWatts: minN(a.minWatts, b.minWatts),
    meanWatts: weightedMean(a.meanWatts, a.wattsSamples, b.meanWatts, b.wattsSamples),
    maxWatts: maxN(a.maxWatts, b.maxWatts),
    energyJoules: a.energyJoules + b.energyJoules,
    maxVramBytes: maxN(a.maxVramBytes, b.maxVramBytes),
    maxRamBytes: maxN(a.maxRamBytes, b.maxRamBytes),
    maxTemperatureC: maxN(a.maxTemperatureC, b.maxTemperatureC),
    utilSamples: (a.meanUtilisation === null ? 0 : a.utilSamples) + (b.meanUtilisation === null ? 0 : b.utilSamples),
    meanUtilisation: weightedMean(a.meanUtilisation, a.utilSamples, b.meanUtilisation, b.utilSamples),
    source: weakerSource(a.source, b.source),
  };
}

/** Coarser buckets (e.g. minutes into hours), per agent, on the epoch-aligned grid. bucketMs must be a multiple of each row's. */
export function coarsenBuckets(rows: readonly TelemetryBucketRow[], bucketMs: number): TelemetryBucketRow[] {
  const out = new Map<string, TelemetryBucketRow>();
  for (const r of rows) {
    if (!(bucketMs > 0) || bucketMs % r.bucketMs !== 0) throw new RangeError(`bucket ${bucketMs} ms is not a multiple of ${r.bucketMs} ms`);
    const startMs = Math.floor(r.startMs / bucketMs) * bucketMs;
    const key = `${r.agentId}\u0000${startMs}`;
    const cur = out.get(key);
    out.set(key, cur === undefined ? { ...r, startMs, bucketMs } : combineBuckets(cur, r, startMs, bucketMs));
  }
  return [...out.values()].sort((x, y) => (x.agentId < y.agentId ? -1 : x.agentId > y.agentId ? 1 : x.startMs - y.startMs));
}
