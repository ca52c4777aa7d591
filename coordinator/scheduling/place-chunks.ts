import type { AgentLoad } from "./agent-load.ts";
import { bytesToFetch, ineligibility, placementPenaltySeconds } from "./eligibility.ts";
import type { SchedulingPolicy } from "./scheduling-policy.ts";
import type { AgentInfo, Hold, JobNeeds, PendingChunk, Placement } from "./scheduling-types.ts";

/**
 * How a job's chunks travel:
 * - pool: every agent that takes work may run them and none is preferred
 *   (same model state everywhere): the shared pool consumer hands each one to
 *   whichever agent asks first, so fast cards simply take more;
 * - agents: only some agents may run them (tags, memory, blocklist), or some
 *   already hold the model and others do not: placed one by one on chosen agents;
 * - hold: agents are online but none may run them (the reason names why).
 * With no agent taking work at all the pool is used, so the first agent to
 * arrive starts at once; the claim still checks its eligibility.
 */
export type Route = { kind: "pool" } | { kind: "agents"; eligible: AgentInfo[] } | { kind: "hold"; reason: string };

export function routeJob(job: JobNeeds, agents: readonly AgentInfo[]): Route {
  const accepting = agents.filter((a) => a.accepting);
  if (accepting.length === 0) return { kind: "pool" };
  const eligible = accepting.filter((a) => ineligibility(a, job) === null);
  if (eligible.length === 0) {
    const why = accepting.slice(0, 3).map((a) => `${a.name} ${ineligibility(a, job) ?? ""}`);
    const more = accepting.length > 3 ? `; and ${accepting.length - 3} more` : "";
    return { kind: "hold", reason: `no online agent can run this job: ${why.join("; ")}${more}` };
  }
  if (eligible.length < accepting.length) return { kind: "agents", eligible };
  const holding = eligible.filter((a) => a.loadedModels.includes(job.modelSha256)).length;
  if (holding > 0 && holding < eligible.length) return { kind: "agents", eligible };
  // Store assets (models, scene files) that agents hold in different measure: placement weighs the transfers.
  if (new Set(eligible.map((a) => bytesToFetch(a, job))).size > 1) return { kind: "agents", eligible };
  return { kind: "pool" };
}

export interface PlacementInput {
  agents: readonly AgentInfo[];
  jobs: ReadonlyMap<string, JobNeeds>;
  /** Pending chunks, highest priority first. */
  pending: readonly PendingChunk[];
  /** Routes already worked out from these same agents (the pass's snapshot); the others are worked out here. */
  routes?: ReadonlyMap<string, Route>;
  /** Messages the pool may still take. */
  poolRoom: number;
  /** Most chunks waiting on one agent's subject. */
  depthPerAgent: number;
  /** Most chunks this pass may publish (power budget); Infinity for no limit. */
  limit: number;
  /** Chunks of jobs below this priority wait (priority-gate.ts); none: no floor. */
  priorityFloor?: number;
  load: AgentLoad;
  needOf: (sha256: string) => number | null;
  policy: SchedulingPolicy;
}

/**
 * Bulk placement, in priority order. Pool chunks fill the pool up to its
 * room. Placed chunks go to the eligible agent with room that would finish
 * them first: its timeline (running and waiting work at its measured speed)
 * plus the chunk at its speed plus a model-load penalty where it does not hold
 * the model. A chunk that finds no room waits for the next pass.
 * A pool chunk that finds no room raises the priority floor to its job's:
 * nothing of lower priority goes out this pass (priority-gate.ts).
 */
export function placeChunks(input: PlacementInput): { placements: Placement[]; holds: Hold[] } {
  const placements: Placement[] = [];
  const holds = new Map<string, string>();
  const routes = new Map<string, Route>();
  const holdsModel = new Map<string, Set<string>>(); // agent -> models it holds or was just given
  // The model-load and fetch penalty of each job on each agent that does not hold its model: the same all pass long.
  const penaltyMs = new Map<string, Map<string, number>>();
  let poolRoom = input.poolRoom;
  let floor = input.priorityFloor ?? -Infinity;
  for (const chunk of input.pending) {
    if (placements.length >= input.limit) break;
    const job = input.jobs.get(chunk.jobId);
    if (!job) continue;
    let route = routes.get(job.jobId);
    if (!route) routes.set(job.jobId, (route = input.routes?.get(job.jobId) ?? routeJob(job, input.agents)));
    if (route.kind === "hold") {
      holds.set(job.jobId, route.reason);
      continue;
    }
    if (job.priority < floor) continue;
    if (route.kind === "pool") {
      if (poolRoom <= 0) {
        floor = Math.max(floor, job.priority);
        continue;
      }
      poolRoom--;
      placements.push({ chunkId: chunk.id, jobId: job.jobId, agentId: null });
      continue;
    }
    let best: { agent: AgentInfo; finish: number } | undefined;
    let penalties = penaltyMs.get(job.jobId);
    if (!penalties) penaltyMs.set(job.jobId, (penalties = new Map()));
    for (const a of route.eligible) {
      if (input.load.waitingCount(a.id) >= input.depthPerAgent) continue;
      // An agent given the job's model earlier in this pass holds it (no penalty, as placementPenaltySeconds says of a held model).
      let penalty = 0;
      if (!holdsModel.get(a.id)?.has(job.modelSha256)) {
        const known = penalties.get(a.id);
        penalty = known ?? placementPenaltySeconds(a, job, input.needOf, input.policy.modelLoadSeconds, input.policy.fetchBytesPerSecond) * 1000;
        if (known === undefined) penalties.set(a.id, penalty);
      }
      const finish = input.load.freeAt(a.id) + input.load.ms(a.id, job.jobId, chunk.frames) + penalty;
      if (!best || finish < best.finish || (finish === best.finish && a.id < best.agent.id)) best = { agent: a, finish };
    }
    if (!best) continue;
    input.load.add(best.agent.id, job.jobId, chunk.frames, chunk.id);
    let set = holdsModel.get(best.agent.id);
    if (!set) holdsModel.set(best.agent.id, (set = new Set()));
    set.add(job.modelSha256);
    placements.push({ chunkId: chunk.id, jobId: job.jobId, agentId: best.agent.id });
  }
  return { placements, holds: [...holds].map(([jobId, reason]) => ({ jobId, reason })) };
}
