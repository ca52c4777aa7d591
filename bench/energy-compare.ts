/**
 * The NVML-vs-agent energy comparison, pure: reference counter readings
 * (NVML total energy, millijoules) and the chunks the agent measured in, the
 * error out. Used by bench/gpu-energy-check.ts.
 */
export interface CounterSample {
  tMs: number;
  /** Counter value in joules. */
  joules: number;
}

export interface MeasuredInterval {
  startMs: number;
  endMs: number;
  /** What the agent reported for the interval. */
  joules: number;
}

/** Counter value at tMs, linear between the neighbouring samples; null outside the sampled range. */
export function counterAt(samples: readonly CounterSample[], tMs: number): number | null {
  if (samples.length === 0) return null;
  const first = samples[0] as CounterSample;
  const last = samples[samples.length - 1] as CounterSample;
  if (tMs < first.tMs || tMs > last.tMs) return null;
  let lo = 0;
  let hi = samples.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((samples[mid] as CounterSample).tMs <= tMs) lo = mid;
    else hi = mid;
  }
  const a = samples[lo] as CounterSample;
  const b = samples[hi] as CounterSample;
  if (b.tMs === a.tMs) return a.joules;
  return a.joules + ((b.joules - a.joules) * (tMs - a.tMs)) / (b.tMs - a.tMs);
}

export interface Comparison {
  chunks: number;
  agentJoules: number;
  referenceJoules: number;
  /** (agent - reference) / reference x 100 over all chunks. */
  errorPercent: number;
  /** Largest per-chunk |error| in percent. */
  maxChunkErrorPercent: number;
  /** Chunks outside the reference's sampled range (not compared). */
  skipped: number;
}

export function compareEnergy(reference: readonly CounterSample[], chunks: readonly MeasuredInterval[]): Comparison {
  let agent = 0;
  let ref = 0;
  let worst = 0;
  let skipped = 0;
  let compared = 0;
  for (const c of chunks) {
    const a = counterAt(reference, c.startMs);
    const b = counterAt(reference, c.endMs);
    if (a === null || b === null) {
      skipped += 1;
      continue;
    }
    compared += 1;
    agent += c.joules;
    ref += b - a;
    if (b - a > 0) worst = Math.max(worst, Math.abs((c.joules - (b - a)) / (b - a)) * 100);
  }
  return {
    chunks: compared,
    agentJoules: agent,
    referenceJoules: ref,
    errorPercent: ref > 0 ? ((agent - ref) / ref) * 100 : NaN,
    maxChunkErrorPercent: worst,
    skipped,
  };
}
