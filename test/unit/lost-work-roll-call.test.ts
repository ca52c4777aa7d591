import assert from "node:assert/strict";
import { test } from "node:test";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import { RollCall } from "../../coordinator/dispatch/roll-call.ts";
import { heard } from "../helpers/heartbeat-fixture.ts";
import { insertAgent, seedFarm } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { recordingPublisher } from "../helpers/recording-publisher.ts";
import { startAttempt } from "../helpers/sink-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const ROLL_CALL_MS = 500;

/**
 * Two agents, each running one chunk, both heard within the freshness bound; `cut` was heard last (its link was cut
 * a moment after its heartbeat), so the freshness rule alone would give it the lost chunk.
 */
function farmWithCutAgent(t: Parameters<typeof seedFarm>[0]) {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14], [15, 19]] });
  const clock = manualClock(10_000);
  const cut = farm.agent;
  const live = insertAgent(farm.store, { id: "agt-live" });
  startAttempt(farm.store, farm.chunks[1]!.id, cut.id, "att-cut");
  startAttempt(farm.store, farm.chunks[2]!.id, live.id, "att-live");
  farm.store.agents.touchMany(new Map([[cut.id, 9_900], [live.id, 9_500]]));
  // What each agent's latest heartbeat echoes: an ask from before this roll call.
  const answers = new Map<string, number>([[cut.id, 4_000], [live.id, 4_000]]);
  const asks: number[] = [];
  const rollCall = new RollCall({ ask: (ask) => asks.push(ask ?? -1), answers: (id) => answers.get(id), ms: ROLL_CALL_MS, clock: clock.now });
  const publisher = recordingPublisher();
  const first = new LostWorkFirst({ store: farm.store, publisher, live: () => heard([cut.id, live.id]), ineligible: () => null, clock: clock.now, log: testLog(), freshMs: 1_500, rollCall });
  return { farm, clock, cut, live, answers, asks, publisher, first };
}

test("lost work goes to an agent that answered the roll call, not to one heard last before it whose link may be cut", async (t) => {
  const f = farmWithCutAgent(t);
  f.first.requeued(f.farm.chunks[0]!.id);
  assert.deepEqual(f.asks, [10_000], "the agents are asked for a heartbeat when the work is lost");
  // Nobody answered yet: the chunk waits for an answer.
  await f.first.place();
  assert.equal(f.publisher.sent.length, 0);
  assert.equal(f.first.waiting, 1);
  // The live agent answers 5 ms later, echoing the ask; the cut one cannot.
  f.clock.advance(5);
  f.answers.set(f.live.id, f.asks[0] as number);
  await f.first.place();
  assert.deepEqual(f.publisher.sent.map((m) => m.agentId), [f.live.id]);
  // A second chunk lost while the roll call is open: no new ask, the answers serve it too.
  f.first.requeued(f.farm.chunks[3]!.id);
  assert.equal(f.asks.length, 1);
  await f.first.place();
  assert.deepEqual(f.publisher.sent.map((m) => m.agentId), [f.live.id, f.live.id]);
});

test("a roll call nobody answers closes after its bound and the lost work is placed by the freshness rule", async (t) => {
  const f = farmWithCutAgent(t);
  f.first.requeued(f.farm.chunks[0]!.id);
  await f.first.place();
  assert.equal(f.publisher.sent.length, 0);
  f.clock.advance(ROLL_CALL_MS);
  await f.first.place();
  assert.deepEqual(f.publisher.sent.map((m) => m.agentId), [f.cut.id], "heard last within the freshness bound");
  // Later lost work asks again.
  f.first.requeued(f.farm.chunks[3]!.id);
  assert.deepEqual(f.asks, [10_000, 10_000 + ROLL_CALL_MS]);
});
