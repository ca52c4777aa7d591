import type { AgentLoad } from "./agent-load.ts";
import { ineligibility, placementPenaltySeconds } from "./eligibility.ts";
import type { SchedulingPolicy } from "./scheduling-policy.ts";
import type { AgentInfo, JobNeeds, RunningWork, Speculation } from "./scheduling-types.ts";

export interface SpeculationInput {
  /** Agents with nothing running and nothing waiting, after this pass's placements. */
  idle: readonly AgentInfo[];
  running: readonly RunningWork[];
  jobs: ReadonlyMap<string, JobNeeds>;
  /** Jobs that still have unstarted chunks: those are handled by placement and the end-game cut, not by copies. */
  jobsWithUnstarted: ReadonlySet<string>;
  load: AgentLoad;
  needOf: (sha256: string) => number | null;
  policy: SchedulingPolicy;
}

/**
 * Speculative copies at the very end of a job: an idle agent copies a running
 * chunk when it would finish it well before the agent running it (by
 * policy.minGainSeconds and policy.minGainFraction of the time left). The
 * holder's end comes from its reported progress or its measured speed; the
 * idle agent's time from its measured speed (or the slowest measured on the
 * model), a model load where it does not hold the model, and the per-chunk
 * overhead. One copy per chunk, one chunk per idle agent, biggest gain first.
 * Whichever attempt commits first wins; the other is cancelled.
 */
export function planSpeculation(input: SpeculationInput): Speculation[] {
  const { load, policy } = input;
  if (!policy.speculation) return [];
  const candidates: Array<Speculation & { holderEnd: number }> = [];
  for (const r of input.running) {
    if (r.speculative || r.hasCopy || input.jobsWithUnstarted.has(r.jobId) || !load.hasEvidence(r)) continue;
    const job = input.jobs.get(r.jobId);
    if (!job) continue;
    const holderEnd = load.runningEnd(r);
    for (const a of input.idle) {
      if (a.id === r.agentId || ineligibility(a, job) !== null) continue;
      const fps = load.knownFps(a.id, job.jobId);
      if (fps === null) continue;
      const penalty = placementPenaltySeconds(a, job, input.needOf, policy.modelLoadSeconds, policy.fetchBytesPerSecond);
      const mine = load.now + (r.frames / fps + policy.chunkOverheadSeconds + penalty) * 1000;
      const gainMs = holderEnd - mine;
      const need = Math.max(policy.minGainSeconds * 1000, policy.minGainFraction * (holderEnd - load.now));
      if (gainMs >= need) candidates.push({ chunkId: r.chunkId, jobId: r.jobId, agentId: a.id, gainMs, holderEnd });
    }
  }
  candidates.sort((x, y) => y.gainMs - x.gainMs || x.chunkId.localeCompare(y.chunkId) || x.agentId.localeCompare(y.agentId));
  const usedChunks = new Set<string>();
  const usedAgents = new Set<string>();
  const out: Speculation[] = [];
  for (const c of candidates) {
    if (usedChunks.has(c.chunkId) || usedAgents.has(c.agentId)) continue;
    usedChunks.add(c.chunkId);
    usedAgents.add(c.agentId);
    out.push({ chunkId: c.chunkId, jobId: c.jobId, agentId: c.agentId, gainMs: c.gainMs });
  }
  return out;
}
