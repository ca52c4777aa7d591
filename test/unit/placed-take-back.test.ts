import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import { LOOK_EVERY_MS, PLACED_TAKE_BACK_MS, PlacedTakeBack } from "../../coordinator/dispatch/placed-take-back.ts";
import { RollCall } from "../../coordinator/dispatch/roll-call.ts";
import { heard } from "../helpers/heartbeat-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { recordingPublisher } from "../helpers/recording-publisher.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = () => ({ input: null, steps: [] });

/**
 * A farm where chunk 0 is placed on agent A's own subject at 10 s (message seq 7), chunks 1-3 wait in the pool,
 * and agent B is online; the coordinator's claim service, and lost-work-first with the take-back rule.
 */
function passedOverFarm(t: TestContext, opts: { takeBack: boolean; withB?: boolean; unclaimed?: boolean; startedAt?: number; rollCall?: { answers: Map<string, number>; asks: number[] } }) {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14], [15, 19]] });
  const clock = manualClock(10_000);
  const a = farm.agent;
  const b = opts.withB === false ? undefined : insertAgent(farm.store, { id: "agt-b" });
  const [placed, ...pool] = farm.chunks.map((c) => c.id) as [string, ...string[]];
  farm.store.chunks.transition(placed, "queued", clock.now(), { dispatchId: "dsp-placed", placedAgentId: a.id });
  const poolDispatch = pool.map((id, i) => queueChunk(farm.store, id, `dsp-pool-${i}`, clock.now()));
  const published = new Map([[placed, { dispatchId: "dsp-placed", seq: 7 }]]);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, clock.now, testLog(), () => undefined, (id) => first.requeued(id));
  const publisher = recordingPublisher();
  const takeBack = new PlacedTakeBack(farm.store, {
    ...(opts.unclaimed === false ? { unclaimed: false } : {}),
    ...(opts.startedAt === undefined ? {} : { startedAt: opts.startedAt }),
  });
  const first: LostWorkFirst = new LostWorkFirst({
    store: farm.store,
    publisher,
    live: () => heard([a.id, ...(b ? [b.id] : [])]),
    ineligible: () => null,
    clock: clock.now,
    log: testLog(),
    ...(opts.takeBack ? { takeBack } : {}),
    ...(opts.rollCall ? { rollCall: new RollCall({ ask: (ask) => opts.rollCall?.asks.push(ask ?? -1), answers: (id) => opts.rollCall?.answers.get(id), ms: 500, clock: clock.now }) } : {}),
  });
  /**
   * A claims the next pool chunk, `afterMs` from now. The first such claim while the placed chunk waits on A is
   * refused (placed-first.ts: the chunk goes back to pending, and the agent acks its message); the pass sends it
   * out again, and A's next pull, not bringing the placed chunk, takes it.
   */
  let next = 0;
  const claimPool = (afterMs: number): void => {
    clock.advance(afterMs);
    const i = next++;
    const id = pool[i] as string;
    const r = claims.claim(a.id, id, poolDispatch[i] as string);
    if (r.skip && /work placed on this agent waits/.test(r.reason)) assert.equal(claims.claim(a.id, id, queueChunk(farm.store, id, `dsp-pool-${i}-again`, clock.now())).skip, false);
    else assert.equal(r.skip, false, r.skip ? r.reason : "");
  };
  /** A claims a pool chunk `afterMs` from now, busy before the chunk is placed on it (placed again, its message unchanged, right after the claim). */
  const busyBeforePlacement = (afterMs: number): void => {
    farm.store.chunks.transition(placed, "pending", clock.now(), { dispatchId: null });
    claimPool(afterMs);
    farm.store.chunks.transition(placed, "queued", clock.now(), { dispatchId: "dsp-placed", placedAgentId: a.id });
  };
  return { farm, clock, a, b, placed, published, claims, publisher, first, claimPool, busyBeforePlacement, takeBack };
}

test("a placed chunk its agent passes over while claiming pool work is taken back, placed on another agent, and the first agent's late claim is refused", async (t) => {
  const f = passedOverFarm(t, { takeBack: true });
  // A is back and takes two pool chunks, not the placed one.
  f.claimPool(500);
  f.claimPool(300);
  // Not yet: the first of those claims is under 2 s old.
  f.clock.advance(PLACED_TAKE_BACK_MS - 400);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed", "left in place within the bound");
  assert.equal(f.publisher.sent.length, 0);

  // The store is looked at once per half bound: at the next look after the bound.
  f.clock.advance(PLACED_TAKE_BACK_MS / 2);
  await f.first.place(f.published);
  const row = f.farm.store.chunks.get(f.placed);
  assert.equal(row?.state, "queued");
  assert.equal(row?.placedAgentId, f.b?.id, "placed again on the other agent");
  assert.deepEqual(f.publisher.sent.map((s) => [s.agentId, s.msg.dispatchId]), [[f.b?.id, row?.dispatchId]]);
  assert.deepEqual(f.publisher.retracted, [7], "the old message is retracted");
  assert.equal(f.published.get(f.placed)?.dispatchId, row?.dispatchId);

  // The old message still reaches A: its claim is refused, so only B's attempt can run and commit.
  assert.deepEqual(f.claims.claim(f.a.id, f.placed, "dsp-placed"), { skip: true, reason: "stale dispatch" });
  const byB = f.claims.claim(f.b?.id as string, f.placed, row?.dispatchId as string);
  assert.equal(byB.skip, false);
  assert.equal(f.farm.store.attempts.listByChunk(f.placed).length, 1);
});

test("a pool claim refused while the placed chunk waits does not count: the placed message, delivered beside it, is the agent's next claim", async (t) => {
  const f = passedOverFarm(t, { takeBack: true });
  f.clock.advance(500);
  assert.equal(f.claims.claim(f.a.id, f.farm.chunks[3]!.id, "dsp-pool-2").skip, true, "refused: placed-first.ts");
  // Its next claim is the placed chunk: accepted.
  f.clock.advance(20);
  assert.equal(f.claims.claim(f.a.id, f.placed, "dsp-placed").skip, false);
  // A pool claim later on (the agent claiming ahead) is taken: nothing waits on A any more.
  f.claimPool(1_000);
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.publisher.sent.length, 0);
});

test("one pool claim taken after the refused one is enough: the agent's own subject did not bring the placed chunk", async (t) => {
  const f = passedOverFarm(t, { takeBack: true });
  f.claimPool(500);
  f.clock.advance(PLACED_TAKE_BACK_MS - 100);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed", "left in place within the bound");
  f.clock.advance(LOOK_EVERY_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.placedAgentId, f.b?.id, "placed again on the other agent");
});

test("without the rule a passed-over placed chunk stays on its agent", async (t) => {
  const f = passedOverFarm(t, { takeBack: false });
  f.claimPool(500);
  f.claimPool(300);
  f.claimPool(300);
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.placedAgentId, f.a.id);
  assert.equal(f.publisher.sent.length, 0);
});

test("with no other agent, a taken-back chunk is left to the pool (where the same agent may take it), not placed on that agent again", async (t) => {
  const f = passedOverFarm(t, { takeBack: true, withB: false });
  f.claimPool(500);
  f.claimPool(300);
  f.clock.advance(PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.state, "pending", "back to pending: the dispatch pass puts it in the pool");
  assert.equal(f.publisher.sent.length, 0);
  assert.equal(f.first.waiting, 1);
  assert.deepEqual(f.claims.claim(f.a.id, f.placed, "dsp-placed"), { skip: true, reason: "chunk is pending" });
});

test("claims of other chunks placed on the same agent do not count: its own subject delivers in order", async (t) => {
  const f = passedOverFarm(t, { takeBack: true });
  // A second chunk placed on A after the first: A claims the first placed one; the second is next.
  const second = f.farm.chunks[3]!.id;
  f.farm.store.chunks.transition(second, "pending", f.clock.now(), { dispatchId: null });
  f.farm.store.chunks.transition(second, "queued", f.clock.now(), { dispatchId: "dsp-second", placedAgentId: f.a.id });
  f.clock.advance(100);
  assert.equal(f.claims.claim(f.a.id, f.placed, "dsp-placed").skip, false);
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(second)?.dispatchId, "dsp-second", "still on A");
  assert.equal(f.publisher.sent.length, 0);
});

test("a placed chunk its idle agent does not claim within the bound is taken back, placed on another agent, and the late claim is refused", async (t) => {
  // A's link was cut a moment before the placement: it claims nothing at all, so the passed-over rule cannot see it.
  const f = passedOverFarm(t, { takeBack: true });
  f.clock.advance(PLACED_TAKE_BACK_MS - 100);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed", "left in place within the bound");
  f.clock.advance(LOOK_EVERY_MS);
  await f.first.place(f.published);
  const row = f.farm.store.chunks.get(f.placed);
  assert.equal(row?.placedAgentId, f.b?.id, "placed again on the other agent");
  assert.deepEqual(f.publisher.sent.map((s) => [s.agentId, s.msg.dispatchId]), [[f.b?.id, row?.dispatchId]]);
  assert.deepEqual(f.publisher.retracted, [7], "the old message is retracted");
  // A's link comes back and the old message reaches it: refused, so exactly one attempt runs.
  assert.deepEqual(f.claims.claim(f.a.id, f.placed, "dsp-placed"), { skip: true, reason: "stale dispatch" });
  assert.equal(f.claims.claim(f.b?.id as string, f.placed, row?.dispatchId as string).skip, false);
  assert.equal(f.farm.store.attempts.listByChunk(f.placed).length, 1);
});

test("without the unclaimed rule, a placed chunk its idle agent never claims stays on it", async (t) => {
  const f = passedOverFarm(t, { takeBack: true, unclaimed: false });
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.placedAgentId, f.a.id);
  assert.equal(f.publisher.sent.length, 0);
});

test("a busy agent's placed chunk waits however long its attempt runs; the bound counts from the attempt's end", async (t) => {
  const f = passedOverFarm(t, { takeBack: true });
  f.busyBeforePlacement(100); // A is busy: it pulls nothing until its attempt ends (agent/nats/work-loop.ts)
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed", "kept while A runs an attempt");
  const [running] = f.farm.store.attempts.runningForAgent(f.a.id);
  f.farm.store.tx(() => f.farm.store.attempts.finish(running?.id as string, "committed", f.clock.now()));
  f.clock.advance(PLACED_TAKE_BACK_MS - 100);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed", "A has been idle for less than the bound");
  f.clock.advance(LOOK_EVERY_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.placedAgentId, f.b?.id);
});

test("time before the coordinator's start does not count: a chunk placed before a restart gets the whole bound", async (t) => {
  const f = passedOverFarm(t, { takeBack: true, startedAt: 10_000 + 10 * PLACED_TAKE_BACK_MS });
  f.clock.advance(10 * PLACED_TAKE_BACK_MS + 100);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed");
  f.clock.advance(PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.placedAgentId, f.b?.id);
});

test("chunks placed on an agent judged lost are placed first on another agent, not left to the back of the pool", async (t) => {
  const f = passedOverFarm(t, { takeBack: false });
  f.clock.advance(500);
  f.claims.loseAgentAttempts(f.a.id, "agent went silent");
  assert.equal(f.first.waiting, 1);
  await f.first.place(f.published);
  const row = f.farm.store.chunks.get(f.placed);
  assert.equal(row?.state, "queued");
  assert.equal(row?.placedAgentId, f.b?.id);
  assert.deepEqual(f.claims.claim(f.a.id, f.placed, "dsp-placed"), { skip: true, reason: "stale dispatch" });
});

test("lost work goes to the agent heard last among the least busy ones, not to the first by name", async (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4]] });
  const clock = manualClock(10_000);
  // agt-b sorts first by name, but its last heartbeat is 900 ms old: its link may have been cut a moment ago.
  const b = insertAgent(farm.store, { id: "agt-b", now: 9_100 });
  farm.store.agents.touch(farm.agent.id, 9_900);
  const chunk = farm.chunks[0]!.id;
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => heard([farm.agent.id, b.id]), ineligible: () => null, clock: clock.now, log: testLog(), freshMs: 1_500 });
  first.requeued(chunk);
  await first.place();
  assert.equal(farm.store.chunks.get(chunk)?.placedAgentId, farm.agent.id);
});

test("with no other agent to go to, an unclaimed placed chunk is left where it is, not sent to the back of the pool", async (t) => {
  const f = passedOverFarm(t, { takeBack: true, withB: false });
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed");
  // The slow agent claims it at last: accepted.
  assert.equal(f.claims.claim(f.a.id, f.placed, "dsp-placed").skip, false);
});

test("a busy agent heard again after a gap has its unclaimed placed chunk placed again at once, and the old message's claim is refused", async (t) => {
  // The thirteenth round's soak: lost work placed on a busy agent whose link had just been cut (or just before a
  // nats-server kill); the message went into the gap, and the agent, back, took a pool chunk around it.
  const f = passedOverFarm(t, { takeBack: true });
  f.busyBeforePlacement(100); // A is busy since before the placement: not passed over
  f.clock.advance(3_000);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed", "neither the passed-over nor the unclaimed rule sees it");
  f.takeBack.heardAfterGap(f.a.id, f.clock.now());
  await f.first.place(f.published); // at once: not held to the once-per-look rate of the other rules
  const row = f.farm.store.chunks.get(f.placed);
  assert.equal(row?.state, "queued");
  assert.notEqual(row?.dispatchId, "dsp-placed");
  assert.equal(row?.placedAgentId, f.b?.id, "placed on the least busy agent (A runs an attempt)");
  assert.deepEqual(f.publisher.sent.map((s) => [s.agentId, s.msg.dispatchId]), [[f.b?.id, row?.dispatchId]]);
  assert.deepEqual(f.publisher.retracted, [7], "the old message is retracted");
  assert.deepEqual(f.claims.claim(f.a.id, f.placed, "dsp-placed"), { skip: true, reason: "stale dispatch" });
  assert.equal(f.claims.claim(f.b?.id as string, f.placed, row?.dispatchId as string).skip, false);
  assert.equal(f.farm.store.attempts.listByChunk(f.placed).length, 1);
});

test("a chunk taken back after a gap goes to an agent that answers the roll call, not to a less busy one that does not", async (t) => {
  // The fifteenth round's soak: a taken-back chunk placed on an agent whose link had been cut 50 ms before.
  const rollCall = { answers: new Map<string, number>(), asks: [] as number[] };
  const f = passedOverFarm(t, { takeBack: true, rollCall });
  f.busyBeforePlacement(100); // A is busy; B, idle, would win on load
  f.clock.advance(3_000);
  f.takeBack.heardAfterGap(f.a.id, f.clock.now());
  await f.first.place(f.published);
  assert.equal(rollCall.asks.length, 1, "the take-back asks the agents");
  assert.equal(f.publisher.sent.length, 0, "taken back, waiting for an answer");
  // A answers, echoing the ask; B (its link cut, say) does not.
  f.clock.advance(5);
  rollCall.answers.set(f.a.id, rollCall.asks[0] as number);
  await f.first.place(f.published);
  assert.deepEqual(f.publisher.sent.map((s) => s.agentId), [f.a.id]);
  assert.equal(f.farm.store.chunks.get(f.placed)?.placedAgentId, f.a.id);
});

test("after a gap the agent itself is not avoided: with no other agent its chunk is placed on it again, with a new message", async (t) => {
  const f = passedOverFarm(t, { takeBack: true, withB: false });
  f.clock.advance(3_000);
  f.takeBack.heardAfterGap(f.a.id, f.clock.now());
  await f.first.place(f.published);
  const row = f.farm.store.chunks.get(f.placed);
  assert.equal(row?.placedAgentId, f.a.id);
  assert.notEqual(row?.dispatchId, "dsp-placed");
  assert.deepEqual(f.publisher.retracted, [7]);
  assert.equal(f.claims.claim(f.a.id, f.placed, row?.dispatchId as string).skip, false);
});

test("a chunk placed after the agent was heard again is left where it is", async (t) => {
  const f = passedOverFarm(t, { takeBack: true });
  f.takeBack.heardAfterGap(f.a.id, f.clock.now() - 1);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed");
  assert.equal(f.publisher.sent.length, 0);
});
