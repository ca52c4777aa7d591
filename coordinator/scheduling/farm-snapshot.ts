import type { Store } from "../store/store.ts";
import type { JobRow } from "../store/jobs-table.ts";
import { onlineAgents, pendingOfJob, queuedChunks, runningRows, unstartedChunks, withProgress, type AttemptProgress, type OnlineAgentRow } from "./snapshot-queries.ts";
import type { KeptReads } from "./kept-reads.ts";
import type { FarmPolicy } from "../dispatch/farm-policy.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import { storeAssets } from "../assets/store-assets.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { ineligibility } from "./eligibility.ts";
import { stepNeed } from "../../shared/steps/step-needs.ts";
import { inLastRounds } from "./end-game.ts";
import { routeJob, type Route } from "./place-chunks.ts";
import type { UnstartedCounts } from "../store/chunks-table.ts";
import { assessWindow, type OffsetAt, type WindowAssessment } from "./job-window.ts";
import type { FarmSnapshot } from "./plan-dispatch.ts";
import type { SchedulingPolicy } from "./scheduling-policy.ts";
import type { AgentInfo, JobNeeds, PendingChunk, UnstartedChunk, WaitingWork } from "./scheduling-types.ts";
import type { SpeedBook } from "./speed-book.ts";

export interface SnapshotDeps {
  store: Store;
  policy: FarmPolicy;
  scheduling: SchedulingPolicy;
  specs: JobSpecs;
  live: () => ReadonlyMap<string, Heartbeat>;
  memoryOf: (modelName: string, sha256: string) => number | null;
  needOfSha: (sha256: string) => number | null;
  zone: OffsetAt;
  /** A job's needs, cached (job-needs-cache.ts); none: computed on every pass. */
  needsOf?: (job: JobRow) => JobNeeds;
  /** Agents, queued chunks and running attempts kept between passes (kept-reads.ts); none: read from the store. */
  kept?: KeptReads;
}

export interface Snapshot {
  snapshot: FarmSnapshot;
  /** Every queued chunk id (pool and agents' subjects). */
  queuedIds: Set<string>;
  /** Window assessments of open jobs that have a window. */
  windows: Map<string, WindowAssessment>;
  jobRows: Map<string, JobRow>;
}

const NOT_TAKING = new Set(["draining", "paused-foreign-gpu-use"]);

export function agentInfo(a: Pick<OnlineAgentRow, "id" | "name" | "tags" | "gpus" | "ramBytes" | "kinds">, hb: Heartbeat | undefined): AgentInfo {
  return {
    id: a.id,
    name: a.name,
    tags: a.tags,
    vramBytes: Math.max(0, ...a.gpus.map((g) => g.vramBytes)),
    ramBytes: a.ramBytes,
    // Only an agent heard since this coordinator started is placed on: after a restart every agent is still online in
    // the store, and one whose link was cut meanwhile held the end-game pieces placed on it until it was back (soak).
    accepting: hb !== undefined && !(NOT_TAKING.has(hb.status) || hb.status.startsWith("paused")),
    loadedModels: hb?.loadedModels ?? [],
    // A kind whose tool the agent reports down (its ComfyUI stopped answering) is not offered until it is back.
    kinds: hb?.downKinds?.length ? a.kinds.filter((k) => !hb.downKinds?.includes(k.kind)) : a.kinds,
    cachedAssets: hb?.cachedAssets ?? [],
  };
}

/** A job's placement needs from its compiled spec; a spec without constraints (older rows, tests) needs nothing. */
export function jobNeeds(job: JobRow, specs: JobSpecs, store: Store, memoryOf: SnapshotDeps["memoryOf"]): JobNeeds {
  const spec = specs.of(job) as Partial<ReturnType<JobSpecs["of"]>>;
  return {
    jobId: job.id,
    priority: job.priority,
    modelSha256: job.modelSha256,
    memoryBytes: memoryOf(job.modelName, job.modelSha256),
    modelFetchBytes: store.models.bySha(job.modelSha256)?.size ?? null,
    fetchAssets: storeAssets(store, job.modelSha256, specs.steps(job)),
    tags: spec.constraints?.tags ?? [],
    minVramBytes: spec.constraints?.minVramBytes ?? 0,
    blockedAgents: store.blocklist.blockedForJob(job.id).map((b) => b.agentId),
    steps: specs.steps(job).map(stepNeed),
    overlap: spec.temporal?.overlap ?? 0,
  };
}

/** Sum of the speeds (measured, or the model's slowest) of the agents that may run the job; 0 when none is known. */
export function eligibleSpeed(job: JobNeeds, agents: readonly AgentInfo[], speeds: SpeedBook): number[] {
  const out: number[] = [];
  for (const a of agents) {
    if (!a.accepting || ineligibility(a, job) !== null) continue;
    const f = speeds.estimate(a.id, job.modelSha256);
    if (f !== null) out.push(f);
  }
  return out;
}

/**
 * Reads what one dispatch pass needs from the store and the latest heartbeats. Synchronous: nothing changes under it.
 * `poolReadAtLeast`: pending chunks read of each pool job even when the pool has no room (a claim answered with
 * its next chunk takes one without the pool: pick-next.ts); the pass reads only what the pool has room for.
 */
export function takeSnapshot(d: SnapshotDeps, speeds: SpeedBook, now: number, poolReadAtLeast = 0): Snapshot {
  const live = d.live();
  const kept = d.kept?.refresh() ? d.kept : undefined;
  const agents = (kept ? kept.onlineAgents() : onlineAgents(d.store)).map((a) => agentInfo(a, live.get(a.id)));
  const jobs = new Map<string, JobNeeds>();
  const models = new Map<string, string>();
  const jobRows = new Map<string, JobRow>();
  const windows = new Map<string, WindowAssessment>();
  for (const job of d.store.jobs.listInStates(["queued", "running", "paused"])) {
    models.set(job.id, job.modelSha256);
    jobRows.set(job.id, job);
    if (job.state === "paused") continue;
    const needs = d.needsOf ? d.needsOf(job) : jobNeeds(job, d.specs, d.store, d.memoryOf);
    const win = (d.specs.of(job) as { window?: ReturnType<JobSpecs["of"]>["window"] }).window;
    if (win && (win.notBeforeMinutes !== null || win.doneByMinutes !== null)) {
      const c = d.store.chunks.counts(job.id);
      const fps = eligibleSpeed(needs, agents, speeds).reduce((a, b) => a + b, 0);
      const w = assessWindow(win, job.createdAt, now, d.zone, c.framesTotal - c.framesDone, fps);
      windows.set(job.id, w);
      if (w.held) continue;
    }
    jobs.set(job.id, needs);
  }

  const queued = kept ? kept.queuedChunks() : queuedChunks(d.store);
  const onlineIds = new Set(agents.map((a) => a.id));
  const waiting = queued.filter((q): q is WaitingWork => q.agentId !== null && onlineIds.has(q.agentId));
  const poolQueued = queued.filter((q) => q.agentId === null).length;

  const progress = new Map<string, AttemptProgress>();
  for (const hb of live.values()) if (hb.progress) progress.set(hb.progress.attemptId, { framesDone: hb.progress.framesDone, elapsedMs: hb.progress.elapsedMs, sentAtMs: hb.sentAtMs });
  const running = withProgress(kept ? kept.runningRows() : runningRows(d.store), progress);

  // An agent holds the model of what it runs now, whatever its last heartbeat said.
  const runningModels = new Map<string, string[]>();
  for (const r of running) {
    const m = models.get(r.jobId);
    if (m) runningModels.set(r.agentId, [...(runningModels.get(r.agentId) ?? []), m]);
  }
  for (const [i, a] of agents.entries()) {
    const extra = (runningModels.get(a.id) ?? []).filter((m) => !a.loadedModels.includes(m));
    if (extra.length > 0) agents[i] = { ...a, loadedModels: [...a.loadedModels, ...extra] };
  }

  // Pending chunks of open jobs in priority order, as many as could be placed now (and a margin for chunks that find no agent).
  const waitingPer = new Map<string, number>();
  for (const w of waiting) waitingPer.set(w.agentId, (waitingPer.get(w.agentId) ?? 0) + 1);
  const rooms = agents.reduce((n, a) => n + Math.max(0, d.policy.queueDepthPerAgent - (waitingPer.get(a.id) ?? 0)), 0);
  let want = Math.max(0, Math.max(1, agents.length) * d.policy.queueDepthPerAgent - poolQueued) + rooms + 64;
  // A pool job's chunks can only fill the pool's room, and a held job's are all skipped (placeChunks passes over the rest
  // without a side effect), so only those are read: at 256 agents that is a chunk or two a pass instead of hundreds.
  // `want` still goes down by what the full read would have taken, so every later job gets the rows it got before.
  let poolRoom = Math.max(1, agents.length) * d.policy.queueDepthPerAgent - poolQueued;
  const queuedPer = new Map<string, number>();
  const inPool = new Set<string>();
  for (const q of queued) {
    queuedPer.set(q.jobId, (queuedPer.get(q.jobId) ?? 0) + 1);
    if (q.agentId === null) inPool.add(q.jobId);
  }
  const poolWaiting = new Set<string>();
  const pending: PendingChunk[] = [];
  const routes = new Map<string, Route>();
  const routeAgents = asRouted(agents, live);
  const jobsWithUnstarted = new Set<string>();
  const nearEnd = new Map<string, UnstartedChunk[]>();
  for (const job of jobs.values()) {
    const u = d.store.chunks.unstarted(job.jobId);
    const last = u.chunks > 0 ? lastRoundChunks(d, job, u, agents, speeds) : undefined;
    if (last) nearEnd.set(job.jobId, last);
    if (want > 0) {
      const take = Math.max(0, Math.min(want, u.chunks - (queuedPer.get(job.jobId) ?? 0)));
      const r = routeHeard(job, routeAgents, live);
      routes.set(job.jobId, r);
      const route = r.kind;
      if (route === "pool" && (inPool.has(job.jobId) || u.chunks > (queuedPer.get(job.jobId) ?? 0))) poolWaiting.add(job.jobId);
      // A job cut at its end this pass gives its pool room to the jobs after it: read as before.
      const read = route === "pool" && !last ? Math.min(take, Math.max(poolReadAtLeast, poolRoom)) : route === "hold" ? Math.min(take, 1) : take;
      if (read > 0) pending.push(...pendingOfJob(d.store, job.jobId, read));
      if (route === "pool" && !last) poolRoom -= read;
      want -= take;
    }
    if (u.chunks > 0) jobsWithUnstarted.add(job.jobId);
  }
  for (const q of queued) jobsWithUnstarted.add(q.jobId);
  return {
    snapshot: {
      now,
      agents,
      jobs,
      models,
      pending,
      routes,
      nearEnd,
      jobsWithUnstarted,
      running,
      waiting,
      poolQueued,
      poolWaiting,
      depthPerAgent: d.policy.queueDepthPerAgent,
      limit: Infinity,
      needOf: d.needOfSha,
    },
    windows,
    jobRows,
    queuedIds: new Set(queued.map((q) => q.chunkId)),
  };
}

/**
 * The job's unstarted chunks when what is left may fit in the last rounds of
 * its agents (end-game.ts inLastRounds), else undefined. The kept bound on
 * the biggest chunk can only say "maybe" too often (inLastRounds grows with
 * it), so the chunks are read, and asked again exactly, only then.
 */
function lastRoundChunks(d: SnapshotDeps, job: JobNeeds, u: UnstartedCounts, agents: readonly AgentInfo[], speeds: SpeedBook): UnstartedChunk[] | undefined {
  if (!d.scheduling.splitting || !speeds.knows(job.modelSha256)) return undefined;
  const fps = eligibleSpeed(job, agents, speeds);
  if (!inLastRounds(u.frames, u.biggestBound, fps, d.scheduling.endGameRounds)) return undefined;
  const chunks = unstartedChunks(d.store, job.jobId);
  const biggest = chunks.reduce((m, c) => Math.max(m, c.frameEnd - c.frameStart + 1), 0);
  return inLastRounds(u.frames, biggest, fps, d.scheduling.endGameRounds) ? chunks : undefined;
}

/**
 * The agents a job's route is worked out from: as placed on, except that an online agent not heard since the
 * coordinator started counts as taking work, as it did before placement waited for a heartbeat. It may pull
 * from the pool, so whether the pool is safe (every such agent may run the job) and whether anything may run
 * the job at all still count it. The same array when every agent is heard (a running farm): nothing is copied.
 */
function asRouted(agents: AgentInfo[], live: ReadonlyMap<string, Heartbeat>): readonly AgentInfo[] {
  if (agents.every((a) => live.has(a.id))) return agents;
  return agents.map((a) => (live.has(a.id) ? a : { ...a, accepting: true }));
}

/**
 * The job's route over `routed` (asRouted), its chunks placed only on heard agents: an agent not heard since
 * the start may have had its link cut while the coordinator was down. With no heard agent to place on, the
 * chunks wait (no note, no hold) until one is heard: its first heartbeat asks for a pass (agent-registry.ts).
 */
function routeHeard(job: JobNeeds, routed: readonly AgentInfo[], live: ReadonlyMap<string, Heartbeat>): Route {
  const route = routeJob(job, routed);
  if (route.kind !== "agents" || route.eligible.every((a) => live.has(a.id))) return route;
  return { kind: "agents", eligible: route.eligible.filter((a) => live.has(a.id)) };
}
