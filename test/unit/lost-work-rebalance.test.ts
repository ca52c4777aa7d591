import assert from "node:assert/strict";
import { test } from "node:test";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import { REBALANCE_LOOK_MS } from "../../coordinator/dispatch/lost-work-rebalance.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { heartbeat } from "../helpers/heartbeat-fixture.ts";
import { insertAgent, seedFarm } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { recordingPublisher } from "../helpers/recording-publisher.ts";
import { startAttempt } from "../helpers/sink-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = () => ({ input: null, steps: [] });

/**
 * Agent A runs chunk 0; chunks 1-3 were lost while A was the only agent heard, so all three were placed on A,
 * behind its running chunk. Agent B, online, is not heard yet.
 */
async function pileOnOneAgent(t: Parameters<typeof seedFarm>[0], bMayRun = true) {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14], [15, 19]] });
  const clock = manualClock(10_000);
  const a = farm.agent;
  const b = insertAgent(farm.store, { id: "agt-b" });
  const [running, ...lost] = farm.chunks.map((c) => c.id) as [string, ...string[]];
  startAttempt(farm.store, running, a.id, "att-run");
  const live = new Map<string, Heartbeat>([[a.id, heartbeat(a.id, { status: "busy" })]]);
  const publisher = recordingPublisher();
  const first: LostWorkFirst = new LostWorkFirst({ store: farm.store, publisher, live: () => live, ineligible: (agent) => (bMayRun || agent.id !== "agt-b" ? null : "lacks tag gpu"), clock: clock.now, log: testLog(), freshMs: 1_500 });
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, clock.now, testLog(), () => undefined, (id) => first.requeued(id));
  const touch = (...ids: string[]): void => farm.store.agents.touchMany(new Map(ids.map((id) => [id, clock.now()])));
  touch(a.id, b.id);
  for (const id of lost) first.requeued(id);
  const published = new Map<string, { dispatchId: string; seq: number }>();
  await first.place(published);
  assert.deepEqual(publisher.sent.map((m) => m.agentId), [a.id, a.id, a.id], "all three on the one agent heard");
  return { farm, clock, a, b, lost, live, publisher, first, claims, touch, published };
}

test("lost work waiting behind other work on its agent is moved to an agent that comes back with nothing in hand, one chunk per idle agent, the last placed first", async (t) => {
  const f = await pileOnOneAgent(t);
  const lastPlaced = f.lost[2] as string;
  const oldDispatch = f.farm.store.chunks.get(lastPlaced)?.dispatchId as string;
  // B is heard, idle.
  f.clock.advance(REBALANCE_LOOK_MS);
  f.live.set(f.b.id, heartbeat(f.b.id, { status: "idle" }));
  f.touch(f.a.id, f.b.id);
  await f.first.place(f.published);
  assert.deepEqual(f.publisher.sent.map((m) => m.agentId), [f.a.id, f.a.id, f.a.id, f.b.id]);
  const moved = f.publisher.sent[3]?.msg;
  assert.equal(moved?.chunkId, lastPlaced, "the chunk with the most work ahead of it");
  assert.equal(f.farm.store.chunks.get(lastPlaced)?.placedAgentId, f.b.id);
  assert.equal(f.publisher.retracted.length, 1, "its old message is retracted");
  // A's late claim of the old message is refused; B's claim of the new one is taken: one attempt only.
  assert.equal(f.claims.claim(f.a.id, lastPlaced, oldDispatch).skip, true);
  assert.equal(f.claims.claim(f.b.id, lastPlaced, moved?.dispatchId as string).skip, false);
  assert.equal(f.farm.store.attempts.listByChunk(lastPlaced).length, 1);
  // B has work now: nothing more moves, though two chunks still wait on A.
  f.clock.advance(REBALANCE_LOOK_MS);
  f.touch(f.a.id, f.b.id);
  await f.first.place(f.published);
  assert.equal(f.publisher.sent.length, 4);
});

test("a lost chunk that is its agent's next work stays where it is", async (t) => {
  const f = await pileOnOneAgent(t);
  // A's running chunk and two of its placed ones are done or claimed: the last lost chunk is next on A.
  for (const id of f.lost.slice(0, 2)) f.farm.store.chunks.transition(id, "pending", f.clock.now(), { dispatchId: null });
  f.farm.store.attempts.finish("att-run", "committed", f.clock.now());
  f.clock.advance(REBALANCE_LOOK_MS);
  f.live.set(f.b.id, heartbeat(f.b.id, { status: "idle" }));
  f.touch(f.a.id, f.b.id);
  const before = f.publisher.sent.length;
  await f.first.place(f.published);
  assert.equal(f.publisher.sent.length, before, "next on A: not moved");
  assert.equal(f.farm.store.chunks.get(f.lost[2] as string)?.placedAgentId, f.a.id);
});

test("lost work waiting behind other work is not moved to an idle agent that may not run it", async (t) => {
  const f = await pileOnOneAgent(t, false);
  f.clock.advance(REBALANCE_LOOK_MS);
  f.live.set(f.b.id, heartbeat(f.b.id, { status: "idle" }));
  f.touch(f.a.id, f.b.id);
  await f.first.place(f.published);
  assert.equal(f.publisher.sent.length, 3);
  assert.deepEqual(f.lost.map((id) => f.farm.store.chunks.get(id)?.placedAgentId), [f.a.id, f.a.id, f.a.id]);
});
