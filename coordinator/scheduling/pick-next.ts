import { ineligibility } from "./eligibility.ts";
import { placeChunks } from "./place-chunks.ts";
import { snapshotLoad, type FarmSnapshot } from "./plan-dispatch.ts";
import { priorityFloor } from "./priority-gate.ts";
import type { SchedulingPolicy } from "./scheduling-policy.ts";
import type { SpeedBook } from "./speed-book.ts";

/**
 * Why this file exists: an agent whose chunk is done (or nearly) may ask on
 * its claim stream for "the next chunk for me" instead of pulling a work
 * message (agent/nats/work-loop.ts); the coordinator claims a pending chunk
 * for it at once, and that chunk's message is never published. Which chunk
 * is the dispatch pass's own decision, read for one agent: the same snapshot
 * (farm-snapshot.ts), the same priority floor (priority-gate.ts) and the
 * same placement (place-chunks.ts: routes, the job's agent constraints,
 * blocklists, the best agent for a placed job's chunk). A pool chunk may go
 * to any agent that may run it; a placed job's chunk only to the agent the
 * placement chose. The pool's room does not bound it: the chunk skips the
 * pool. Left to the pass, so this answers none:
 * - an agent with a chunk waiting on its own subject (placed work, lost work
 *   placed first: lost-work-first.ts) takes that one first;
 * - a job near its end, which the pass may cut across its agents (end-game.ts).
 * The ids come best first; the claim takes the first still pending.
 */
export function pickNext(agentId: string, s: FarmSnapshot, speeds: SpeedBook, policy: SchedulingPolicy, max: number): string[] {
  const me = s.agents.find((a) => a.id === agentId);
  if (!me?.accepting || s.waiting.some((w) => w.agentId === agentId)) return [];
  const { placements } = placeChunks({
    agents: s.agents,
    jobs: s.jobs,
    pending: s.pending.filter((c) => !s.nearEnd.has(c.jobId)),
    ...(s.routes ? { routes: s.routes } : {}),
    poolRoom: Infinity,
    depthPerAgent: s.depthPerAgent,
    limit: s.limit,
    priorityFloor: priorityFloor(s.jobs, s.poolWaiting ?? new Set<string>()),
    load: snapshotLoad(s, speeds, policy),
    needOf: s.needOf,
    policy,
  });
  const out: string[] = [];
  for (const p of placements) {
    if (out.length >= max) break;
    const job = s.jobs.get(p.jobId);
    if (p.agentId === agentId || (p.agentId === null && job !== undefined && ineligibility(me, job) === null)) out.push(p.chunkId);
  }
  return out;
}
