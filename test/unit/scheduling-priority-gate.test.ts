import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { takeSnapshot } from "../../coordinator/scheduling/farm-snapshot.ts";
import { placeChunks } from "../../coordinator/scheduling/place-chunks.ts";
import { planDispatch, type DispatchPlan, type FarmSnapshot } from "../../coordinator/scheduling/plan-dispatch.ts";
import { priorityFloor } from "../../coordinator/scheduling/priority-gate.ts";
import { defaultSchedulingDeps } from "../../coordinator/scheduling/scheduling-deps.ts";
import { DEFAULT_SCHEDULING_POLICY } from "../../coordinator/scheduling/scheduling-policy.ts";
import type { PendingChunk } from "../../coordinator/scheduling/scheduling-types.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { heard } from "../helpers/heartbeat-fixture.ts";
import { agent, chunks, job, loadOf, MODEL, NOW, policy, running, speeds } from "../helpers/scheduling-fixtures.ts";
import { insertAgent, insertChunks, insertJob, openTempStore, queueChunk } from "../helpers/store-fixture.ts";

/**
 * The priority rule (coordinator/scheduling/priority-gate.ts): while a job that
 * every agent may run has chunks waiting for an agent, nothing of lower
 * priority is published or cut. The first test is the store state of the
 * inversion seen in scheduling-farm.test.ts under load.
 */

const pending = (jobId: string, n: number, frames = 2): PendingChunk[] => Array.from({ length: n }, (_, i) => ({ id: `${jobId}.c${i}`, jobId, frames }));
const where = (plan: DispatchPlan): string[] => plan.placements.map((p) => `${p.chunkId}->${p.agentId ?? "pool"}`);

/** One agent, "solo"; a low job (priority 0) of eight 2-frame chunks and a high one (priority 50) of two. */
function oneAgentFarm(t: TestContext) {
  const { store } = openTempStore(t);
  insertAgent(store, { id: "solo" });
  const low = insertJob(store, { id: "low", state: "running", priority: 0, modelSha256: MODEL, frameEnd: 15 });
  const high = insertJob(store, { id: "high", state: "running", priority: 50, modelSha256: MODEL, frameEnd: 3 });
  const lows = insertChunks(store, low.id, Array.from({ length: 8 }, (_, i) => [2 * i, 2 * i + 1] as const));
  const highs = insertChunks(store, high.id, [[0, 1], [2, 3]]);
  const live = new Map<string, Heartbeat>(heard(["solo"], { status: "busy", loadedModels: [MODEL] }));
  const deps = { ...defaultSchedulingDeps(), scheduling: DEFAULT_SCHEDULING_POLICY, store, policy: DEFAULT_FARM_POLICY, live: () => live };
  const book = speeds({ solo: 10 });
  const plan = (): DispatchPlan => planDispatch(takeSnapshot(deps, book, NOW).snapshot, book, deps.scheduling);
  const claim = (chunkId: string): void => {
    store.attempts.insert({ id: `att-${chunkId}`, chunkId, jobId: chunkId.startsWith("high") ? high.id : low.id, agentId: "solo", createdAt: NOW - 100 });
    store.chunks.transition(chunkId, "running", NOW - 100, { currentAttemptId: `att-${chunkId}`, countAttempt: true });
  };
  return { store, lows, highs, plan, claim };
}

test("a high-priority chunk queued in the pool and not claimed yet: no low chunk is published behind it (the inversion under load)", (t) => {
  const f = oneAgentFarm(t);
  // The agent runs high's first chunk; high's second waits in the pool (its agent handed it back for 100 ms
  // while busy, so JetStream would give a message published now before it); low's chunks are pending.
  queueChunk(f.store, f.highs[0]!.id);
  f.claim(f.highs[0]!.id);
  queueChunk(f.store, f.highs[1]!.id);
  assert.deepEqual(where(f.plan()), [], "the pool has room for one more, but the low job waits");

  // Once high's last chunk is claimed, the low job goes on.
  f.claim(f.highs[1]!.id);
  assert.deepEqual(where(f.plan()), ["low_c0->pool", "low_c1->pool"]);
});

test("the same farm with equal priorities: the low job fills the pool's room as before", (t) => {
  const f = oneAgentFarm(t);
  f.store.jobs.setPriority("high", 0);
  queueChunk(f.store, f.highs[0]!.id);
  f.claim(f.highs[0]!.id);
  queueChunk(f.store, f.highs[1]!.id);
  assert.deepEqual(where(f.plan()), ["low_c0->pool"], "equal priority: the pool's room is filled");
});

test("a high-priority pool job that finds no room in the pool holds back a lower job's placement on an agent's own subject", () => {
  // high: every agent may run it, the pool is full. low: only "a" may run it (a tag), so it would go on a's own
  // subject, which a takes before the pool.
  const agents = [agent("a", { tags: ["cuda"] }), agent("b")];
  const jobs = new Map([
    ["high", job("high", { priority: 50 })],
    ["low", job("low", { tags: ["cuda"] })],
  ]);
  const base = { agents, jobs, depthPerAgent: 2, limit: Infinity, needOf: () => null, policy: policy() };
  const full = placeChunks({ ...base, pending: [...pending("high", 1), ...pending("low", 2)], poolRoom: 0, load: loadOf(agents, speeds({ a: 10, b: 10 })) });
  assert.deepEqual(full.placements, [], "nothing of the low job while the high job waits for the pool");
  const noHigh = placeChunks({ ...base, pending: pending("low", 2), poolRoom: 0, load: loadOf(agents, speeds({ a: 10, b: 10 })) });
  assert.deepEqual(noHigh.placements.map((p) => `${p.chunkId}->${p.agentId ?? "pool"}`), ["low.c0->a", "low.c1->a"], "without it, as before");
  // A higher job only some agents may run (placed, not pooled) does not hold back a job the others run.
  const tagged = new Map([
    ["high", job("high", { priority: 50, tags: ["cuda"] })],
    ["low", job("low")],
  ]);
  const split = placeChunks({ ...base, jobs: tagged, pending: [...pending("high", 3), ...pending("low", 2)], poolRoom: 2, load: loadOf(agents, speeds({ a: 10, b: 10 })) });
  assert.deepEqual(split.placements.map((p) => `${p.chunkId}->${p.agentId ?? "pool"}`), ["high.c0->a", "high.c1->a", "low.c0->pool", "low.c1->pool"]);
});

test("a lower-priority job near its end is not cut while a higher one every agent may run waits; without it, it is", () => {
  // fast 10 frames/s, slow 2.5: the low job's last four chunks would be cut so that both agents end together.
  const agents = [agent("fast", { loadedModels: [MODEL] }), agent("slow", { loadedModels: [MODEL] })];
  const book = speeds({ fast: 10, slow: 2.5 });
  const snapshot = (poolWaiting: string[]): FarmSnapshot => ({
    now: NOW,
    agents,
    jobs: new Map([
      ["high", job("high", { priority: 50 })],
      ["low", job("low")],
    ]),
    models: new Map(),
    pending: pending("high", 2, 10),
    nearEnd: new Map([["low", chunks("low", 4, 10)]]),
    jobsWithUnstarted: new Set(["high", "low"]),
    running: [running("fast", "r1", 10, NOW - 500, { jobId: "high" })],
    waiting: [],
    poolQueued: 0,
    poolWaiting: new Set(poolWaiting),
    depthPerAgent: 2,
    limit: Infinity,
    needOf: () => null,
  });
  const gated = planDispatch(snapshot(["high"]), book, policy());
  assert.deepEqual(gated.endGames, [], "the low job's end waits for the high job's chunks");
  assert.deepEqual(where(gated), ["high.c0->pool", "high.c1->pool"]);
  const free = planDispatch({ ...snapshot([]), pending: [] }, book, policy());
  assert.equal(free.endGames.length, 1, "with nothing of higher priority waiting, the end of the low job is cut");
});

test("the floor: the highest priority among waiting pool jobs still dispatchable, leaving out those cut this pass", () => {
  const jobs = new Map([
    ["a", job("a", { priority: 5 })],
    ["b", job("b", { priority: 9 })],
  ]);
  assert.equal(priorityFloor(jobs, []), -Infinity);
  assert.equal(priorityFloor(jobs, ["a", "b"]), 9);
  assert.equal(priorityFloor(jobs, ["a", "b"], new Set(["b"])), 5);
  assert.equal(priorityFloor(jobs, ["gone"]), -Infinity, "a paused or finished job holds nothing back");
});
