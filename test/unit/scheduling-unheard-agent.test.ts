import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { takeSnapshot } from "../../coordinator/scheduling/farm-snapshot.ts";
import { planDispatch, type DispatchPlan } from "../../coordinator/scheduling/plan-dispatch.ts";
import { defaultSchedulingDeps } from "../../coordinator/scheduling/scheduling-deps.ts";
import { DEFAULT_SCHEDULING_POLICY } from "../../coordinator/scheduling/scheduling-policy.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { heartbeat, heard } from "../helpers/heartbeat-fixture.ts";
import { MODEL, speeds } from "../helpers/scheduling-fixtures.ts";
import { insertAgent, insertChunks, insertJob, openTempStore, queueChunk } from "../helpers/store-fixture.ts";

const NOW = 10_000;

/** A store with agents a, b and c online (as after a coordinator restart: every agent's row still says online) and one running job. */
function farm(t: TestContext, chunks: ReadonlyArray<readonly [number, number]>) {
  const { store } = openTempStore(t);
  for (const id of ["a", "b", "c"]) insertAgent(store, { id });
  const job = insertJob(store, { id: "job", state: "running", modelSha256: MODEL, frameEnd: chunks.at(-1)![1] });
  const rows = insertChunks(store, job.id, chunks);
  const live = new Map<string, Heartbeat>();
  // No model-load cost: an unheard agent's loaded models are unknown, and the test is about who is heard, not who holds the model.
  const scheduling = { ...DEFAULT_SCHEDULING_POLICY, modelLoadSeconds: 0 };
  const deps = { ...defaultSchedulingDeps(), scheduling, store, policy: DEFAULT_FARM_POLICY, live: () => live };
  const book = speeds({ a: 10, b: 10, c: 10 });
  const plan = (): DispatchPlan => planDispatch(takeSnapshot(deps, book, NOW).snapshot, book, deps.scheduling);
  const run = (chunkId: string, agentId: string): void => {
    queueChunk(store, chunkId);
    store.attempts.insert({ id: `att-${chunkId}`, chunkId, jobId: job.id, agentId, createdAt: NOW - 100 });
    store.chunks.transition(chunkId, "running", NOW - 100, { currentAttemptId: `att-${chunkId}`, countAttempt: true });
  };
  return { store, job, rows, live, plan, run };
}

/** Every agent the plan gives work to: end-of-job pieces, placed chunks, speculative copies. */
function placedOn(plan: DispatchPlan): Set<string | null> {
  return new Set([...plan.endGames.flatMap((e) => e.pieces.map((p) => p.agentId)), ...plan.placements.map((p) => p.agentId), ...plan.speculations.map((s) => s.agentId)]);
}

test("the end-of-job re-cut places no piece on an agent not heard since the coordinator started, and does once it is heard", (t) => {
  // a and b run the first two chunks; 20 frames are left; c is idle, online in the store, and not heard since the start
  // (its link was cut while the coordinator was down): before, the re-cut gave c most of what was left.
  const f = farm(t, [[0, 9], [10, 19], [20, 39]]);
  f.run(f.rows[0]!.id, "a");
  f.run(f.rows[1]!.id, "b");
  for (const [id, hb] of heard(["a", "b"], { status: "busy" })) f.live.set(id, hb);

  const unheard = f.plan();
  assert.equal(unheard.endGames.length, 1, "the end of the job is re-cut among a and b");
  assert.ok(!placedOn(unheard).has("c"), `nothing is placed on c: ${JSON.stringify([...placedOn(unheard)])}`);
  assert.deepEqual([...placedOn(unheard)].sort(), ["a", "b"]);

  f.live.set("c", heartbeat("c"));
  const cHeard = f.plan();
  assert.equal(cHeard.endGames.length, 1);
  assert.ok(cHeard.endGames[0]!.pieces.some((p) => p.agentId === "c"), "once heard, the idle agent gets a piece");
});

test("a job only an unheard agent may run waits for it, neither held nor in the pool; a job any agent may run goes to the pool before anyone is heard", (t) => {
  const f = farm(t, [[0, 4], [5, 9]]);
  // With no agent heard yet (a fresh farm's first second, or just after a restart), the job's chunks go to the pool,
  // where the first agent to ask takes one: nothing waits for a heartbeat.
  const fresh = f.plan();
  assert.deepEqual(fresh.placements.map((p) => p.agentId), [null, null]);

  // a and b are blocklisted for the job; c, the one agent that may run it, is not heard yet. Not to the pool, where
  // a and b would pull it and have their claims refused, nor held: it waits for c.
  for (const id of ["a", "b"]) f.store.blocklist.recordFailure(f.job.id, id, "boom", true, NOW);
  const noneHeard = f.plan();
  assert.deepEqual(noneHeard.placements, [], "with nobody heard: neither in the pool nor placed");
  assert.deepEqual(noneHeard.holds, []);
  for (const [id, hb] of heard(["a", "b"])) f.live.set(id, hb);
  const waiting = f.plan();
  assert.deepEqual(waiting.placements, [], "not placed on the unheard agent");
  assert.deepEqual(waiting.holds, [], "not held either (a hold writes a note and fires job.blocked)");

  f.live.set("c", heartbeat("c"));
  const cHeard = f.plan();
  assert.deepEqual(cHeard.placements.map((p) => p.agentId), ["c", "c"]);

  // Once c is gone for good (offline, out of the snapshot), the job is held, saying why.
  f.store.agents.transition("c", "offline");
  f.live.delete("c");
  assert.deepEqual(f.plan().holds.map((h) => h.jobId), [f.job.id]);
});
