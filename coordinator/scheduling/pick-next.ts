import { ineligibility } from "./eligibility.ts";
import { placeChunks } from "./place-chunks.ts";
import { snapshotLoad, type DispatchPlan, type FarmSnapshot } from "./plan-dispatch.ts";
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

/**
 * The farm as a pass left it, from its snapshot and plan: the chunks it placed are queued (in the pool, or
 * waiting on their agent's subject), the jobs it cut are near their end. Picks are made from this until
 * the next pass.
 */
export function afterPass(s: FarmSnapshot, plan: DispatchPlan): FarmSnapshot {
  const placed = new Set(plan.placements.map((p) => p.chunkId));
  const frames = new Map(s.pending.map((c) => [c.id, c.frames]));
  const nearEnd = new Map(s.nearEnd);
  for (const e of plan.endGames) nearEnd.set(e.jobId, nearEnd.get(e.jobId) ?? []);
  const waiting = [...s.waiting];
  let poolQueued = s.poolQueued;
  for (const p of plan.placements) {
    if (p.agentId === null) poolQueued++;
    else waiting.push({ chunkId: p.chunkId, jobId: p.jobId, agentId: p.agentId, frames: frames.get(p.chunkId) ?? 1 });
  }
  for (const e of plan.endGames) for (const p of e.pieces) waiting.push({ chunkId: p.sourceChunkId, jobId: e.jobId, agentId: p.agentId, frames: p.frameEnd - p.frameStart + 1 });
  return { ...s, pending: s.pending.filter((c) => !placed.has(c.id)), nearEnd, waiting, poolQueued, limit: Math.max(0, s.limit - plan.placements.length) };
}
