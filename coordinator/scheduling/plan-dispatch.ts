import { AgentLoad } from "./agent-load.ts";
import { ineligibility } from "./eligibility.ts";
import { planEndGame, type EndGamePlan } from "./end-game.ts";
import { placeChunks, type Route } from "./place-chunks.ts";
import type { SchedulingPolicy } from "./scheduling-policy.ts";
import type { AgentInfo, Hold, JobNeeds, PendingChunk, Placement, RunningWork, Speculation, UnstartedChunk, WaitingWork } from "./scheduling-types.ts";
import { priorityFloor } from "./priority-gate.ts";
import { planSpeculation } from "./speculation.ts";
import type { SpeedBook } from "./speed-book.ts";

/** Everything one dispatch pass decides from: agents, jobs, and where every open chunk stands. */
export interface FarmSnapshot {
  now: number;
  /** Online agents. */
  agents: AgentInfo[];
  /** Jobs with work that may be dispatched now (queued or running, window open), highest priority first. */
  jobs: Map<string, JobNeeds>;
  /** The model of every job that has running or waiting work (paused jobs too), for time estimates. */
  models: Map<string, string>;
  /** Pending chunks of those jobs, highest priority first (as many as could be placed). */
  pending: PendingChunk[];
  /** How each job's chunks travel, where the snapshot already worked it out from these agents (placement reuses it). */
  routes?: ReadonlyMap<string, Route>;
  /** Every unstarted chunk of the jobs that are near their end (see inLastRounds). */
  nearEnd: Map<string, UnstartedChunk[]>;
  /** Jobs that have any unstarted chunk. */
  jobsWithUnstarted: Set<string>;
  running: RunningWork[];
  /** Chunks queued on agents' own subjects. */
  waiting: WaitingWork[];
  /** Chunks queued in the pool. */
  poolQueued: number;
  /** Jobs on the pool route with chunks waiting for an agent (pending, or queued in the pool): see priority-gate.ts. */
  poolWaiting?: ReadonlySet<string>;
  depthPerAgent: number;
  /** Most chunks this pass may publish (power budget); Infinity for no limit. */
  limit: number;
  needOf: (sha256: string) => number | null;
}

export interface DispatchPlan {
  endGames: EndGamePlan[];
  placements: Placement[];
  speculations: Speculation[];
  holds: Hold[];
}

/**
 * One pass of the scheduler, pure: the end-of-job cuts first (they free
 * agents' timelines and take those jobs' chunks out of bulk placement), then
 * bulk placement in priority order, then speculative copies for agents that
 * are left with nothing to do. Neither a cut nor a placement goes to a job
 * below the priority of a pool job whose chunks still wait (priority-gate.ts).
 */
export function planDispatch(s: FarmSnapshot, speeds: SpeedBook, policy: SchedulingPolicy): DispatchPlan {
  const load = snapshotLoad(s, speeds, policy);
  let budget = s.limit;
  const endGames: EndGamePlan[] = [];
  const cut = new Set<string>();
  const poolWaiting = s.poolWaiting ?? new Set<string>();
  const floorBeforeCuts = priorityFloor(s.jobs, poolWaiting);
  for (const [jobId, unstarted] of s.nearEnd) {
    const job = s.jobs.get(jobId);
    if (!job || unstarted.length === 0 || job.priority < floorBeforeCuts) continue;
    const eligible = s.agents.filter((a) => a.accepting && ineligibility(a, job) === null);
    const plan = planEndGame({ job, unstarted, eligible, runningEndMs: jobRunningEnd(jobId, s.running, load), load, needOf: s.needOf, policy });
    if (!plan || plan.pieces.length > budget) continue;
    budget -= plan.pieces.length;
    load.remove(new Set(unstarted.map((c) => c.id)));
    for (const p of plan.pieces) load.add(p.agentId, jobId, p.frameEnd - p.frameStart + 1);
    endGames.push(plan);
    cut.add(jobId);
  }

  const { placements, holds } = placeChunks({
    agents: s.agents,
    jobs: s.jobs,
    pending: s.pending.filter((c) => !cut.has(c.jobId)),
    ...(s.routes ? { routes: s.routes } : {}),
    poolRoom: Math.max(1, s.agents.length) * s.depthPerAgent - s.poolQueued,
    depthPerAgent: s.depthPerAgent,
    limit: budget,
    priorityFloor: priorityFloor(s.jobs, poolWaiting, cut),
    load,
    needOf: s.needOf,
    policy,
  });
  budget -= placements.length;

  const busy = new Set([...s.running.map((r) => r.agentId), ...placements.map((p) => p.agentId ?? "")]);
  const poolHasWork = s.poolQueued + placements.filter((p) => p.agentId === null).length > 0;
  const idle = poolHasWork ? [] : s.agents.filter((a) => a.accepting && !busy.has(a.id) && load.waitingCount(a.id) === 0);
  const speculations =
    budget > 0 && idle.length > 0
      ? planSpeculation({ idle, running: s.running, jobs: s.jobs, jobsWithUnstarted: s.jobsWithUnstarted, load, needOf: s.needOf, policy }).slice(0, budget)
      : [];
  return { endGames, placements, speculations, holds };
}

/** What every agent has in hand (running, and waiting on its subject) as a pass, or a claim's pick (pick-next.ts), starts from. */
export function snapshotLoad(s: FarmSnapshot, speeds: SpeedBook, policy: SchedulingPolicy): AgentLoad {
  return new AgentLoad(s.now, speeds, (jobId) => s.models.get(jobId) ?? s.jobs.get(jobId)?.modelSha256, policy, s.agents, s.running, s.waiting);
}

/** When the job's running chunks are expected to be done: each chunk ends with its first attempt to end. */
function jobRunningEnd(jobId: string, running: readonly RunningWork[], load: AgentLoad): number {
  const byChunk = new Map<string, number>();
  for (const r of running) {
    if (r.jobId !== jobId) continue;
    const end = load.runningEnd(r);
    byChunk.set(r.chunkId, Math.min(byChunk.get(r.chunkId) ?? Infinity, end));
  }
  return Math.max(load.now, ...byChunk.values());
}
