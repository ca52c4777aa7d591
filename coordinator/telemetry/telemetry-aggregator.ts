import type { TelemetrySample } from "../../shared/protocol/telemetry-message.ts";
import { combineBuckets, type TelemetryBucketRow } from "./telemetry-bucket.ts";

/**
 * Folds agents' telemetry samples into fixed buckets (1 minute by default,
 * aligned to the epoch). Pure: samples in, finished buckets out; the caller
 * writes them.
 *
 * Energy per sample is the difference of the agent's running totals between
 * the previous sample received from the same session and this one, so lost
 * samples lose no energy (it lands in the bucket of the next sample that
 * arrives); the first sample of a session counts its own difference only. A
 * sample whose seq is not newer than the last one of its session is a
 * duplicate and is dropped.
 */
export interface AddResult {
  /** Buckets finished by this sample (it began a later bucket, or it belonged to an earlier one). */
  closed: TelemetryBucketRow[];
  /** Joules this sample added. */
  energyJoules: number;
}

interface Last {
  session: string;
  seq: number;
  totalJoules: number;
}

export class TelemetryAggregator {
  private readonly open = new Map<string, TelemetryBucketRow>();
  private readonly last = new Map<string, Last>();

  constructor(readonly bucketMs = 60_000) {
    if (!(Number.isInteger(bucketMs) && bucketMs > 0)) throw new RangeError(`bucketMs must be a positive integer, got ${bucketMs}`);
  }

  /** Adds one sample taken at tMs (the sample's time, or the receive time when the agent's clock is off). Null: a duplicate. */
  add(s: TelemetrySample, tMs: number = s.tMs): AddResult | null {
    const prev = this.last.get(s.agentId);
    if (prev !== undefined && prev.session === s.session && s.seq <= prev.seq) return null;
    const fromTotals = prev !== undefined && prev.session === s.session ? s.energyTotalJoules - prev.totalJoules : null;
    const energyJoules = fromTotals !== null && fromTotals >= 0 && Number.isFinite(fromTotals) ? fromTotals : s.energyJoules;
    this.last.set(s.agentId, { session: s.session, seq: s.seq, totalJoules: s.energyTotalJoules });

    const startMs = Math.floor(tMs / this.bucketMs) * this.bucketMs;
    const row = sampleRow(s, startMs, this.bucketMs, energyJoules);
    const cur = this.open.get(s.agentId);
    if (cur === undefined) {
      this.open.set(s.agentId, row);
      return { closed: [], energyJoules };
    }
    if (cur.startMs === startMs) {
      this.open.set(s.agentId, combineBuckets(cur, row));
      return { closed: [], energyJoules };
    }
    if (startMs < cur.startMs) return { closed: [row], energyJoules }; // late: merged into the written bucket
    this.open.set(s.agentId, row);
    return { closed: [cur], energyJoules };
  }

  /** Buckets that ended at least graceMs before nowMs (their agent went quiet). */
  flushEnded(nowMs: number, graceMs = 5000): TelemetryBucketRow[] {
    const out: TelemetryBucketRow[] = [];
    for (const [agentId, b] of this.open) {
      if (b.startMs + b.bucketMs + graceMs <= nowMs) {
        out.push(b);
        this.open.delete(agentId);
      }
    }
    return out;
  }

  /** Every open bucket, as it stands (at shutdown; a later sample in the same bucket is merged on write). */
  flushAll(): TelemetryBucketRow[] {
    const out = [...this.open.values()];
    this.open.clear();
    return out;
  }

  /** Forgets an agent's session (removed agents). */
  forget(agentId: string): void {
    this.open.delete(agentId);
    this.last.delete(agentId);
  }
}

function sampleRow(s: TelemetrySample, startMs: number, bucketMs: number, energyJoules: number): TelemetryBucketRow {
  return {
    agentId: s.agentId,
    bucketMs,
    startMs,
    samples: 1,
    busySamples: s.busy ? 1 : 0,
    idleEnergyJoules: s.busy ? 0 : energyJoules,
    wattsSamples: s.watts === null ? 0 : 1,
    minWatts: s.watts,
    meanWatts: s.watts,
    maxWatts: s.watts,
    energyJoules,
    maxVramBytes: s.vramBytes,
    maxRamBytes: s.ramBytes,
    maxTemperatureC: s.temperatureC,
    utilSamples: s.utilisationPercent === null ? 0 : 1,
    meanUtilisation: s.utilisationPercent,
    source: s.source,
  };
}
