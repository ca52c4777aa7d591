import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import { PLACED_TAKE_BACK_MS, PlacedTakeBack } from "../../coordinator/dispatch/placed-take-back.ts";
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
function passedOverFarm(t: TestContext, opts: { takeBack: boolean; withB?: boolean }) {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14], [15, 19]] });
  const clock = manualClock(10_000);
  const a = farm.agent;
  const b = opts.withB === false ? undefined : insertAgent(farm.store, { id: "agt-b" });
  const [placed, ...pool] = farm.chunks.map((c) => c.id) as [string, ...string[]];
  farm.store.chunks.transition(placed, "queued", clock.now(), { dispatchId: "dsp-placed", placedAgentId: a.id });
  const poolDispatch = pool.map((id, i) => queueChunk(farm.store, id, `dsp-pool-${i}`, clock.now()));
  const published = new Map([[placed, { dispatchId: "dsp-placed", seq: 7 }]]);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, clock.now, testLog(), () => undefined);
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({
    store: farm.store,
    publisher,
    live: () => heard([a.id, ...(b ? [b.id] : [])]),
    ineligible: () => null,
    clock: clock.now,
    log: testLog(),
    ...(opts.takeBack ? { takeBack: new PlacedTakeBack(farm.store) } : {}),
  });
  /** A claims the next pool chunk, `afterMs` from now. */
  let next = 0;
  const claimPool = (afterMs: number): void => {
    clock.advance(afterMs);
    const i = next++;
    assert.equal(claims.claim(a.id, pool[i] as string, poolDispatch[i] as string).skip, false);
  };
  return { farm, clock, a, b, placed, published, claims, publisher, first, claimPool };
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

test("one claim of other work is not enough (the placed message may be waiting its turn in the agent), however long ago", async (t) => {
  const f = passedOverFarm(t, { takeBack: true });
  f.claimPool(500);
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(f.placed)?.dispatchId, "dsp-placed");
  // Its next claim is the placed chunk: accepted.
  assert.equal(f.claims.claim(f.a.id, f.placed, "dsp-placed").skip, false);
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.publisher.sent.length, 0);
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
  // A second chunk placed on A after the first: A claims the first placed one, then a pool chunk; the second is next.
  const second = f.farm.chunks[3]!.id;
  f.farm.store.chunks.transition(second, "pending", f.clock.now(), { dispatchId: null });
  f.farm.store.chunks.transition(second, "queued", f.clock.now(), { dispatchId: "dsp-second", placedAgentId: f.a.id });
  f.clock.advance(100);
  assert.equal(f.claims.claim(f.a.id, f.placed, "dsp-placed").skip, false);
  f.claimPool(300);
  f.clock.advance(10 * PLACED_TAKE_BACK_MS);
  await f.first.place(f.published);
  assert.equal(f.farm.store.chunks.get(second)?.dispatchId, "dsp-second", "still on A");
  assert.equal(f.publisher.sent.length, 0);
});
