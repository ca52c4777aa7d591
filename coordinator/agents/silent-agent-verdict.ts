import type { FarmPolicy } from "../dispatch/farm-policy.ts";
import type { ProbeAnswer } from "./agent-prober.ts";

/**
 * Why this file exists: heartbeat silence alone cannot tell an agent whose
 * process died, a cut link and an agent starved of CPU apart, and treating the
 * last as lost redoes its work (the soak's false losses under load). A TCP
 * connect to the agent's health port tells them apart: the kernel accepts it
 * while the process lives, even stopped or starved; it refuses it once the
 * process is gone; nothing answers across a cut link or from a dead machine.
 * This is the decision table only, pure: the registry feeds it the silence and
 * the probes' answers, and does what it says.
 */

/** The timings of the table, derived from the farm policy (heartbeatMs, agentTimeoutMs). */
export interface LivenessRules {
  /**
   * Silence after which the agent's health port is probed: one and a half heartbeat periods (a late heartbeat
   * costs one TCP connect that the kernel answers; two periods, before the fifteenth round, added 0.5 s to each
   * cut link's recovery).
   */
  readonly probeAfterMs: number;
  /**
   * A probe with no answer within this long (half a heartbeat period; a whole one before the fifteenth round)
   * counts as no answer. A LAN answers a connect in a millisecond, and the timeout is judged after the event
   * loop has read its sockets (tcp-agent-prober.ts), so a stalled coordinator does not take an answer for none.
   */
  readonly probeTimeoutMs: number;
  /** While the silence lasts, a new probe once the last one started this long ago (one heartbeat period). */
  readonly reprobeMs: number;
  /** Silence after which an agent is lost whatever the probes say: 3 x agentTimeoutMs. */
  readonly starvedLimitMs: number;
  readonly agentTimeoutMs: number;
}

export function livenessRules(policy: Pick<FarmPolicy, "heartbeatMs" | "agentTimeoutMs">): LivenessRules {
  return {
    probeAfterMs: Math.min(1.5 * policy.heartbeatMs, policy.agentTimeoutMs),
    probeTimeoutMs: policy.heartbeatMs / 2,
    reprobeMs: policy.heartbeatMs,
    starvedLimitMs: 3 * policy.agentTimeoutMs,
    agentTimeoutMs: policy.agentTimeoutMs,
  };
}

/** The probes of one silence (forgotten at the next heartbeat). */
export interface SilenceProbes {
  /** A probe is running now. */
  readonly inFlight: boolean;
  /** The latest finished probe of this silence: its answer and when it started. */
  readonly last?: { readonly answer: ProbeAnswer; readonly startedAt: number };
}

export type LossReason =
  /** The connection was refused or reset: no process listens on the health port any more, or a firewall or NAT on the way refuses. */
  | "process gone"
  /** The probe got no answer: cut link or machine down. */
  | "no answer"
  /** Silent past agentTimeoutMs with nothing saying it lives (no address to probe, or no probe answered). */
  | "silent"
  /** The kernel still answers, but the agent has been silent past the starved limit. */
  | "starved too long";

export type SilentAgentVerdict =
  | { readonly lost: false; readonly probe: boolean; readonly starved: boolean }
  | { readonly lost: true; readonly reason: LossReason };

/**
 * What to do with an online agent silent for `silentMs` (counted silence, registry's rules):
 *
 * | silence                     | last probe of this silence          | verdict                         |
 * |-----------------------------|-------------------------------------|---------------------------------|
 * | <= probeAfterMs             | any                                 | keep                            |
 * | > probeAfterMs              | refused                             | lost: process gone              |
 * | > starvedLimitMs            | any                                 | lost: starved too long          |
 * | > probeAfterMs              | no answer                           | lost: no answer                 |
 * | > agentTimeoutMs            | answered, recent or re-probe running| keep (starved), probe again     |
 * | > agentTimeoutMs            | none yet, first probe running       | keep until it answers (bounded) |
 * | > agentTimeoutMs            | none, nothing to probe, or stale    | lost: silent                    |
 * | probeAfterMs..agentTimeout  | none or answered                    | keep, probe when due            |
 *
 * "Recent": started within 2 x reprobeMs + probeTimeoutMs. A probe is due when none runs and the last
 * started reprobeMs ago or more; only when the agent has an address to probe (`canProbe`).
 */
export function silentAgentVerdict(silentMs: number, probes: SilenceProbes, canProbe: boolean, now: number, r: LivenessRules): SilentAgentVerdict {
  if (silentMs <= r.probeAfterMs) return { lost: false, probe: false, starved: false };
  const last = probes.last;
  if (last?.answer === "refused") return { lost: true, reason: "process gone" };
  if (silentMs > r.starvedLimitMs) return { lost: true, reason: "starved too long" };
  if (last?.answer === "no-answer") return { lost: true, reason: "no answer" };
  const due = canProbe && !probes.inFlight && (last === undefined || now - last.startedAt >= r.reprobeMs);
  if (silentMs <= r.agentTimeoutMs) return { lost: false, probe: due, starved: false };
  const recent = last !== undefined && now - last.startedAt <= 2 * r.reprobeMs + r.probeTimeoutMs;
  if (canProbe && (recent || probes.inFlight)) return { lost: false, probe: due, starved: true };
  return { lost: true, reason: "silent" };
}
