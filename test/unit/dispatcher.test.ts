import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { Dispatcher, type WorkPublisher } from "../../coordinator/dispatch/dispatcher.ts";
import { DEFAULT_FARM_POLICY, type FarmPolicy } from "../../coordinator/dispatch/farm-policy.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import type { Store } from "../../coordinator/store/store.ts";
import { eventually, settle } from "../helpers/eventually.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { hearOnline } from "../helpers/heartbeat-fixture.ts";

/** The transport edge, recorded in memory. `failOn` decides per call whether publish rejects. */
class RecordingPublisher implements WorkPublisher {
  readonly published: WorkMessage[] = [];
  calls = 0;
  failOn: (call: number, msg: WorkMessage) => boolean = () => false;
  gate: Promise<void> | undefined;

  async publish(msg: WorkMessage, agentId?: string): Promise<void> {
    assert.equal(agentId, undefined, "the dispatcher publishes to the pool");
    const call = ++this.calls;
    if (this.gate) await this.gate;
    if (this.failOn(call, msg)) throw new Error("nats: connection closed");
    this.published.push(msg);
  }
}

/** `gapMs`: the dispatcher's least gap between passes (0: every kick's pass on the next turn, as most tests want). */
function setup(t: TestContext, policy: Partial<FarmPolicy> = {}, gapMs = 0) {
  const { store } = openTempStore(t);
  const publisher = new RecordingPublisher();
  const dispatcher = new Dispatcher(store, publisher, { ...DEFAULT_FARM_POLICY, ...policy }, manualClock().now, testLog(), gapMs);
  // Every online agent is heard, as in a running farm (work is placed only on agents heard since the start).
  dispatcher.useScheduling({ live: hearOnline(store) });
  t.after(() => dispatcher.stop());
  return { store, publisher, dispatcher };
}

test("pending chunks are published highest job priority first, then oldest job, then frame order", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 20 });
  insertAgent(store, { id: "agt_a" });
  const low = insertJob(store, { id: "job_low", priority: 0, createdAt: 1_000 });
  const high = insertJob(store, { id: "job_high", priority: 10, createdAt: 5_000 });
  const highOlder = insertJob(store, { id: "job_high_older", priority: 10, createdAt: 4_000 });
  insertChunks(store, low.id, [[0, 1], [2, 3]]);
  insertChunks(store, high.id, [[0, 1], [2, 3]]);
  insertChunks(store, highOlder.id, [[0, 1]]);

  dispatcher.kick();
  await settle();
  // The low job waits while the higher jobs' chunks are not claimed (coordinator/scheduling/priority-gate.ts).
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_high_older_c0", "job_high_c0", "job_high_c1"]);
  for (const m of publisher.published) {
    store.attempts.insert({ id: `att-${m.chunkId}`, chunkId: m.chunkId, jobId: m.jobId, agentId: "agt_a", createdAt: 6_000 });
    store.chunks.transition(m.chunkId, "running", 6_000, { currentAttemptId: `att-${m.chunkId}`, countAttempt: true });
  }
  dispatcher.kick();
  await settle();
  assert.deepEqual(
    publisher.published.map((m) => m.chunkId),
    ["job_high_older_c0", "job_high_c0", "job_high_c1", "job_low_c0", "job_low_c1"],
  );
  for (const m of publisher.published) {
    const row = store.chunks.get(m.chunkId)!;
    assert.equal(row.state, m.jobId === low.id ? "queued" : "running");
    assert.equal(row.dispatchId, m.dispatchId, "the message carries the chunk's dispatch id");
    assert.equal(m.jobId, row.jobId);
  }
  assert.equal(new Set(publisher.published.map((m) => m.dispatchId)).size, 5, "dispatch ids are unique");
});

test("at most queueDepthPerAgent x online agents chunks wait in the queue", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 2 });
  insertAgent(store, { id: "agt_a" });
  insertAgent(store, { id: "agt_b" });
  insertAgent(store, { id: "agt_off", state: "offline" });
  insertAgent(store, { id: "agt_pending", state: "pending" });
  const job = insertJob(store, { id: "job_big" });
  insertChunks(store, job.id, Array.from({ length: 10 }, (_, i) => [i * 2, i * 2 + 1] as const));

  dispatcher.kick();
  await settle();
  assert.equal(publisher.published.length, 4, "2 online agents x depth 2");
  assert.equal(store.chunks.countInState("queued"), 4);
  assert.equal(store.chunks.countInState("pending"), 6);

  dispatcher.kick();
  await settle();
  assert.equal(publisher.published.length, 4, "a full queue publishes nothing more");

  // One message is taken (claimed): there is room for exactly one more.
  store.chunks.transition("job_big_c0", "running", 2_000, { currentAttemptId: "att_x" });
  dispatcher.kick();
  await settle();
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_big_c0", "job_big_c1", "job_big_c2", "job_big_c3", "job_big_c4"]);
  assert.equal(store.chunks.countInState("queued"), 4);
});

test("with no agent online the queue still holds one agent's depth", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 3 });
  const job = insertJob(store);
  insertChunks(store, job.id, [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]);
  dispatcher.kick();
  await settle();
  assert.equal(publisher.published.length, 3);
});

test("chunks of paused or finished jobs are not published", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 10 });
  const paused = insertJob(store, { id: "job_paused", priority: 9 });
  const running = insertJob(store, { id: "job_running" });
  insertChunks(store, paused.id, [[0, 1]]);
  insertChunks(store, running.id, [[0, 1]]);
  store.jobs.transition(paused.id, "paused", 2_000);
  store.jobs.transition(running.id, "running", 2_000);
  dispatcher.kick();
  await settle();
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_running_c0"]);
  assert.equal(store.chunks.get("job_paused_c0")?.state, "pending");
});

test("a publish failure puts the chunk back to pending; the next pass publishes it", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 10 });
  insertAgent(store);
  const job = insertJob(store, { id: "job_f" });
  insertChunks(store, job.id, [[0, 1], [2, 3], [4, 5]]);
  publisher.failOn = (call) => call === 2;

  dispatcher.kick();
  await settle();
  assert.equal(publisher.calls, 3, "the pass's publishes go out without waiting for each other");
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_f_c0", "job_f_c2"]);
  for (const id of ["job_f_c0", "job_f_c2"]) assert.equal(store.chunks.get(id)?.state, "queued", `${id}: acked, so queued`);
  const failed = store.chunks.get("job_f_c1")!;
  assert.equal(failed.state, "pending", "the chunk whose publish failed is pending again");
  assert.equal(failed.dispatchId, null);

  dispatcher.kick();
  await settle();
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_f_c0", "job_f_c2", "job_f_c1"]);
  assert.equal(store.chunks.countInState("queued"), 3);
});

test("a pass ends only when every publish of it has settled: no chunk is published twice", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 10 });
  insertAgent(store);
  const job = insertJob(store, { id: "job_s" });
  insertChunks(store, job.id, [[0, 1], [2, 3]]);
  let release!: () => void;
  publisher.gate = new Promise<void>((r) => (release = r));
  publisher.failOn = (call) => call === 1;
  dispatcher.kick();
  await settle();
  assert.equal(publisher.calls, 2, "both publishes are in flight");
  dispatcher.kick();
  await settle();
  assert.equal(publisher.calls, 2, "no second pass while the first one's publishes wait for acks");
  assert.equal(store.chunks.countInState("queued"), 2, "in flight: still queued");
  release();
  await eventually(() => publisher.calls === 3, "the failed chunk to be published again by the pass after", 2000);
  assert.deepEqual(publisher.published.map((m) => m.chunkId).sort(), ["job_s_c0", "job_s_c1"]);
  assert.equal(store.chunks.countInState("queued"), 2);
});

/** Chunk `idx` of the job (two frames), the id insertChunks would give it. */
function addChunk(store: Store, jobId: string, idx: number): void {
  store.chunks.insert({ id: `${jobId}_c${idx}`, jobId, idx, frameStart: idx * 2, frameEnd: idx * 2 + 1, contextStart: idx * 2, contextEnd: idx * 2 + 1, updatedAt: 1_000 });
}

test("passes are coalesced with a leading edge: the first kick runs at once, kicks within the gap share one pass", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 10 }, 1000);
  let passes = 0;
  dispatcher.useScheduling({ prepare: async () => void passes++ });
  insertAgent(store);
  const job = insertJob(store, { id: "job_g" });
  insertChunks(store, job.id, [[0, 1]]);

  dispatcher.kick();
  await settle();
  assert.equal(passes, 1, "a kick after a quiet spell is not delayed");
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_g_c0"]);

  addChunk(store, job.id, 1);
  for (let i = 0; i < 5; i++) dispatcher.kick();
  await settle();
  assert.equal(passes, 1, "kicks within the gap wait for its end");
  await eventually(() => passes === 2, "one pass at the end of the gap", 5000, 10);
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_g_c0", "job_g_c1"]);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(passes, 2, "five kicks, one pass");

  dispatcher.kick();
  await settle();
  assert.equal(passes, 3, "after a quiet spell a kick runs at once again");
  addChunk(store, job.id, 2);
  dispatcher.kick();
  await settle();
  assert.equal(passes, 3, "within the gap: waits");
  dispatcher.kickNow();
  await settle();
  assert.equal(passes, 4, "kickNow (new work) does not wait for the gap, and takes the waiting kick's place");
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_g_c0", "job_g_c1", "job_g_c2"]);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(passes, 4, "the waiting pass was replaced, not run as well");
});

test("without a gap, the kicks of one turn (commits, claims, an urgent kick) share one pass", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 10 });
  let passes = 0;
  dispatcher.useScheduling({ prepare: async () => void passes++ });
  insertAgent(store);
  const job = insertJob(store, { id: "job_t" });
  insertChunks(store, job.id, [[0, 1]]);
  for (let i = 0; i < 8; i++) dispatcher.kick();
  dispatcher.kickNow();
  dispatcher.kick();
  await settle();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(passes, 1);
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_t_c0"]);
});

test("a kick during a running pass is not lost", async (t) => {
  const { store, publisher, dispatcher } = setup(t, { queueDepthPerAgent: 10 });
  insertAgent(store);
  const job = insertJob(store, { id: "job_k" });
  insertChunks(store, job.id, [[0, 1]]);
  let release!: () => void;
  publisher.gate = new Promise<void>((r) => (release = r));

  dispatcher.kick();
  await settle();
  assert.equal(publisher.calls, 1, "the first pass is blocked inside publish");
  // A new job arrives while the pass is blocked.
  const late = insertJob(store, { id: "job_late" });
  insertChunks(store, late.id, [[0, 1]]);
  dispatcher.kick();
  release();
  await eventually(() => publisher.published.length === 2, "the late job's chunk to be published", 2000);
  assert.deepEqual(publisher.published.map((m) => m.chunkId), ["job_k_c0", "job_late_c0"]);
});
