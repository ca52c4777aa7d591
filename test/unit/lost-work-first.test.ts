import assert from "node:assert/strict";
import { test } from "node:test";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { heard as heardAll, heartbeat } from "../helpers/heartbeat-fixture.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { recordingPublisher } from "../helpers/recording-publisher.ts";
import { testLog } from "../helpers/test-log.ts";

test("a lost chunk is placed on the agent with the least work in hand, on its own subject", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14]] });
  const busy = farm.agent;
  const idle = insertAgent(farm.store, { id: "agt-idle" });
  // The busy agent runs chunk 1; chunk 0 was lost and is pending again.
  runOn(farm, farm.chunks[1]!.id, busy.id);
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => heardAll([busy.id, idle.id]), ineligible: () => null, clock: manualClock(5_000).now, log: testLog() });
  first.requeued(farm.chunks[0]!.id);
  const published = new Map<string, { dispatchId: string; seq: number }>();
  await first.place(published);
  assert.equal(publisher.sent.length, 1);
  assert.equal(publisher.sent[0]?.agentId, idle.id);
  const row = farm.store.chunks.get(farm.chunks[0]!.id);
  assert.equal(row?.state, "queued");
  assert.equal(row?.placedAgentId, idle.id);
  assert.equal(row?.dispatchId, publisher.sent[0]?.msg.dispatchId);
  assert.deepEqual(published.get(farm.chunks[0]!.id), { dispatchId: row?.dispatchId, seq: 100 });
  assert.equal(first.waiting, 0);
  // Placed once: a later pass publishes nothing more.
  await first.place(published);
  assert.equal(publisher.sent.length, 1);
});

test("with no agent that may run it, a lost chunk is left to the pool, then taken back from it once an agent is online", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, agentState: "offline" });
  const chunk = farm.chunks[0]!;
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => heardAll([farm.agent.id]), ineligible: () => null, clock: manualClock(5_000).now, log: testLog() });
  first.requeued(chunk.id);
  await first.place();
  assert.equal(publisher.sent.length, 0, "no agent online: nothing placed");
  assert.equal(first.waiting, 1);
  // The dispatch pass puts it in the pool meanwhile.
  const poolDispatch = queueChunk(farm.store, chunk.id, "dsp-pool");
  const published = new Map([[chunk.id, { dispatchId: poolDispatch, seq: 42 }]]);
  farm.store.agents.transition(farm.agent.id, "online");
  await first.place(published);
  assert.equal(publisher.sent.length, 1);
  assert.equal(publisher.sent[0]?.agentId, farm.agent.id);
  assert.deepEqual(publisher.retracted, [42], "the pool message is retracted");
  const row = farm.store.chunks.get(chunk.id);
  assert.equal(row?.placedAgentId, farm.agent.id);
  assert.notEqual(row?.dispatchId, poolDispatch, "a stale pool copy is refused at claim");
});

test("an ineligible or draining agent is not given the lost chunk; a chunk claimed meanwhile is forgotten", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" } });
  const draining = insertAgent(farm.store, { id: "agt-draining" });
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({
    store: farm.store,
    publisher,
    live: () => heardAll([draining.id], { status: "draining" }),
    ineligible: (a) => (a.id === farm.agent.id ? "lacks tag x" : null),
    clock: manualClock(5_000).now,
    log: testLog(),
  });
  first.requeued(farm.chunks[0]!.id);
  first.requeued(farm.chunks[1]!.id);
  await first.place();
  assert.equal(publisher.sent.length, 0);
  assert.equal(first.waiting, 2);
  queueChunk(farm.store, farm.chunks[1]!.id, "dsp-x");
  farm.store.chunks.transition(farm.chunks[1]!.id, "running", 1_000);
  await first.place();
  assert.equal(first.waiting, 1, "the running chunk is no longer waited for");
});

/** The agent runs the chunk: queued, one running attempt ("att-1"), running. */
function runOn(farm: ReturnType<typeof seedFarm>, chunkId: string, agentId: string): void {
  farm.store.chunks.transition(chunkId, "queued", 1_000, { dispatchId: "d1" });
  farm.store.attempts.insert({ id: "att-1", chunkId, jobId: farm.job.id, agentId, createdAt: 1_000 });
  farm.store.chunks.transition(chunkId, "running", 1_000, { currentAttemptId: "att-1" });
}

test("only agents heard since the coordinator started are given lost work: after a restart, one not heard from may have its link cut", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14]] });
  const unheard = farm.agent;
  const heard = insertAgent(farm.store, { id: "agt-heard" });
  // The heard agent already has a chunk in hand; the unheard one has none: it would win on load.
  runOn(farm, farm.chunks[1]!.id, heard.id);
  const live = new Map<string, Heartbeat>();
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => live, ineligible: () => null, clock: manualClock(5_000).now, log: testLog() });
  live.set(heard.id, heartbeat(heard.id, { status: "busy" }));
  first.requeued(farm.chunks[0]!.id);
  await first.place();
  assert.deepEqual(publisher.sent.map((m) => m.agentId), [heard.id]);
  assert.notEqual(heard.id, unheard.id);
  // With nobody heard yet, nothing is placed: the chunk waits for the pool or for an agent to be heard.
  live.clear();
  first.requeued(farm.chunks[2]!.id);
  await first.place();
  assert.equal(publisher.sent.length, 1);
  assert.equal(first.waiting, 1);
  live.set(unheard.id, heartbeat(unheard.id, { status: "busy" }));
  await first.place();
  assert.deepEqual(publisher.sent.map((m) => m.agentId), [heard.id, unheard.id]);
});

test("an agent heard a moment ago is preferred to a less busy one silent for longer (its link may have just been cut); with none fresh, the least busy", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14]] });
  const clock = manualClock(10_000);
  const quiet = farm.agent; // idle, last heard 1.6 s ago: its link may have been cut, which is noticed only after 2-3 s
  const fresh = insertAgent(farm.store, { id: "agt-fresh" }); // busy with one chunk, heard 0.2 s ago
  runOn(farm, farm.chunks[1]!.id, fresh.id);
  farm.store.agents.touchMany(new Map([[quiet.id, 8_400], [fresh.id, 9_800]]));
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => heardAll([quiet.id, fresh.id]), ineligible: () => null, clock: clock.now, log: testLog(), freshMs: 1_500 });
  first.requeued(farm.chunks[0]!.id);
  await first.place();
  assert.deepEqual(publisher.sent.map((m) => m.agentId), [fresh.id]);
  // Later, neither heard within 1.5 s: the least busy one, as before.
  clock.advance(5_000);
  first.requeued(farm.chunks[2]!.id);
  await first.place();
  assert.deepEqual(publisher.sent.map((m) => m.agentId), [fresh.id, quiet.id]);
});

test("after a restart, lost work is not piled on the first agent heard while the others are not heard yet (bounded by settleMs)", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14]] });
  const a = farm.agent;
  const b = insertAgent(farm.store, { id: "agt-b" });
  const c = insertAgent(farm.store, { id: "agt-c" });
  const clock = manualClock(5_000);
  const live = new Map<string, Heartbeat>([[a.id, heartbeat(a.id)]]);
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => live, ineligible: () => null, clock: clock.now, log: testLog(), settleMs: 1_500 });
  for (const chunk of farm.chunks) first.requeued(chunk.id);
  await first.place();
  assert.deepEqual(publisher.sent.map((s) => s.agentId), [a.id], "one on A; the others wait while B and C are not heard");
  // B is heard: it gets the next one; A and B have one in hand each, C is not heard yet: the third waits.
  clock.advance(300);
  live.set(b.id, heartbeat(b.id));
  await first.place();
  assert.deepEqual(publisher.sent.map((s) => s.agentId), [a.id, b.id]);
  // C is heard: it gets the third.
  clock.advance(300);
  live.set(c.id, heartbeat(c.id));
  await first.place();
  assert.deepEqual(publisher.sent.map((s) => s.agentId), [a.id, b.id, c.id]);
});

test("the wait ends settleMs after the first agent is heard, though another online agent never is (its link may be cut)", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9]] });
  const a = farm.agent;
  insertAgent(farm.store, { id: "agt-silent" });
  const clock = manualClock(5_000);
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => heardAll([a.id]), ineligible: () => null, clock: clock.now, log: testLog(), settleMs: 1_500 });
  for (const c of farm.chunks) first.requeued(c.id);
  await first.place();
  assert.equal(publisher.sent.length, 1);
  clock.advance(1_400);
  await first.place();
  assert.equal(publisher.sent.length, 1, "still within the wait");
  clock.advance(100);
  await first.place();
  assert.deepEqual(publisher.sent.map((s) => s.agentId), [a.id, a.id]);
});

test("a lost chunk the dispatch pass placed on a busy agent while it waited (the restart settle) is taken back and placed on an idle one; left where it is when that is lost work's choice", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14]] });
  const busy = farm.agent;
  const idle = insertAgent(farm.store, { id: "agt-idle" });
  runOn(farm, farm.chunks[1]!.id, busy.id);
  const [lost, other] = [farm.chunks[0]!.id, farm.chunks[2]!.id];
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => heardAll([busy.id, idle.id]), ineligible: () => null, clock: manualClock(5_000).now, log: testLog() });
  first.requeued(lost);
  first.requeued(other);
  // The pass placed both by its own rule meanwhile: the lost one on the busy agent, the other on the idle one.
  farm.store.chunks.transition(lost, "queued", 4_000, { dispatchId: "dsp-pass-1", placedAgentId: busy.id });
  farm.store.chunks.transition(other, "queued", 4_000, { dispatchId: "dsp-pass-2", placedAgentId: idle.id });
  const published = new Map([
    [lost, { dispatchId: "dsp-pass-1", seq: 7 }],
    [other, { dispatchId: "dsp-pass-2", seq: 8 }],
  ]);
  await first.place(published);
  // The idle agent has one placed (the other chunk), the busy one runs one and has the lost one placed: least in hand wins.
  assert.deepEqual(publisher.sent.map((s) => [s.msg.chunkId, s.agentId]), [[lost, idle.id]], "the lost chunk moves to the idle agent; the other stays where it is");
  assert.deepEqual(publisher.retracted, [7], "the pass's message is retracted (a copy pulled already is refused at claim as stale)");
  const row = farm.store.chunks.get(lost);
  assert.equal(row?.placedAgentId, idle.id);
  assert.notEqual(row?.dispatchId, "dsp-pass-1");
  assert.equal(farm.store.chunks.get(other)?.dispatchId, "dsp-pass-2", "left where lost work would have put it");
  assert.equal(first.waiting, 0);
});
