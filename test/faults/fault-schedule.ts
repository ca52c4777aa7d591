/**
 * The soak's fault plan, pure and seeded: the same seed gives the same plan,
 * so a failing soak can be replayed with --seed.
 */
export type FaultKind = "kill-agent" | "kill-coordinator" | "kill-nats" | "cut-link" | "kill-nats-node";

export interface PlannedFault {
  /** Seconds after the round's job was submitted. */
  atSeconds: number;
  kind: FaultKind;
  /** Which agent (index) for agent faults; which node (modulo their count) for kill-nats-node. */
  agent: number;
  /** Seconds until the agent, link or NATS node is restored. */
  restoreAfterSeconds: number;
}

/** mulberry32: small, fast, good enough for test schedules. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ScheduleOptions {
  seed: number;
  faults: number;
  agents: number;
  /** Spread the faults over this many seconds. */
  windowSeconds: number;
  kinds: readonly FaultKind[];
  /** Coordinator faults need this many seconds between them (restart time). */
  minGapSeconds: number;
}

export function planFaults(o: ScheduleOptions): PlannedFault[] {
  if (o.kinds.length === 0 || o.faults <= 0) return [];
  const rnd = seededRandom(o.seed);
  const out: PlannedFault[] = [];
  let t = 1 + rnd();
  const step = Math.max(o.minGapSeconds, o.windowSeconds / o.faults);
  for (let i = 0; i < o.faults; i++) {
    const kind = o.kinds[Math.floor(rnd() * o.kinds.length)] as FaultKind;
    out.push({
      atSeconds: Math.round(t * 100) / 100,
      kind,
      agent: Math.floor(rnd() * o.agents),
      restoreAfterSeconds: Math.round((1 + rnd() * 4) * 100) / 100,
    });
    t += step * (0.6 + rnd() * 0.8);
  }
  return out;
}

/** p-th percentile (0..100) by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** The soak's recovery figures: "recovery p50 Xs p99 Ys", or "no recovery measured" when no fault gave one (not "NaNs"). */
export function recoverySummary(seconds: readonly number[]): string {
  if (seconds.length === 0) return "no recovery measured";
  return `recovery p50 ${percentile(seconds, 50).toFixed(1)}s p99 ${percentile(seconds, 99).toFixed(1)}s`;
}
