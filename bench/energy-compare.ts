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
  /**
   * Runs of chunks whose intervals overlap (a chunk meter hands the shared
   * time over to the chunk started later, so overlapping chunks count it
   * once between them: only their sum is comparable with the counter).
   */
  groups: number;
  agentJoules: number;
  /** The counter over the union of the compared chunks' intervals. */
  referenceJoules: number;
  /** (agent - reference) / reference x 100 over all chunks. */
  errorPercent: number;
  /** Largest |error| in percent of one group (a lone chunk is a group of its own). */
  maxChunkErrorPercent: number;
  /** Chunks outside the reference's sampled range (not compared). */
  skipped: number;
}

interface Group {
  startMs: number;
  endMs: number;
  joules: number;
}

/** Chunks sorted by start, merged where one starts before the group so far ends. */
function overlapGroups(chunks: readonly MeasuredInterval[]): Group[] {
  const groups: Group[] = [];
  for (const c of [...chunks].sort((a, b) => a.startMs - b.startMs)) {
    const last = groups[groups.length - 1];
    if (last !== undefined && c.startMs < last.endMs) {
      last.endMs = Math.max(last.endMs, c.endMs);
      last.joules += c.joules;
    } else groups.push({ startMs: c.startMs, endMs: c.endMs, joules: c.joules });
  }
  return groups;
}

export function compareEnergy(reference: readonly CounterSample[], chunks: readonly MeasuredInterval[]): Comparison {
  const inRange = chunks.filter((c) => counterAt(reference, c.startMs) !== null && counterAt(reference, c.endMs) !== null);
  const groups = overlapGroups(inRange);
  let agent = 0;
  let ref = 0;
  let worst = 0;
  for (const g of groups) {
    const span = (counterAt(reference, g.endMs) as number) - (counterAt(reference, g.startMs) as number);
    agent += g.joules;
    ref += span;
    if (span > 0) worst = Math.max(worst, Math.abs((g.joules - span) / span) * 100);
  }
  return {
    chunks: inRange.length,
    groups: groups.length,
    agentJoules: agent,
    referenceJoules: ref,
    errorPercent: ref > 0 ? ((agent - ref) / ref) * 100 : NaN,
    maxChunkErrorPercent: worst,
    skipped: chunks.length - inRange.length,
  };
}
