import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream, type Consumer } from "@nats-io/jetstream";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import { runDispatchPass } from "../../coordinator/scheduling/dispatch-pass.ts";
import { defaultSchedulingDeps } from "../../coordinator/scheduling/scheduling-deps.ts";
import { WorkMessageSchema, decodeJson } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, WORK_STREAM, agentConsumerName } from "../../shared/protocol/subjects.ts";
import { hearOnline } from "../helpers/heartbeat-fixture.ts";
import { insertAgent, insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

/**
 * Lost work goes first among jobs of its own priority and lower, not ahead of
 * a higher-priority job's waiting chunks (coordinator/dispatch/outranking-work.ts).
 * A real nats-server work queue, the real lost-work placement, dispatch pass
 * and claim rules over a store, and the test taking work as the one agent's
 * work loop does: a message placed on its own subject before the pool's next.
 * The agent loses a low job's chunk just as a high job comes: before the rule,
 * the lost low chunk was placed on the agent's own subject and ran before both
 * high chunks.
 */

const NOW = 10_000;

test("a lost chunk of a low job runs after a waiting high job's chunks, and before the rest of its own job", async (t) => {
  const wq = await startWorkQueue(t, 30);
  const { store } = openTempStore(t);
  insertAgent(store, { id: "solo" });
  await wq.queue.ensureAgentConsumer("solo");
  const low = insertJob(store, { id: "low", priority: 0, frameEnd: 7 });
  insertChunks(store, low.id, [[0, 1], [2, 3], [4, 5], [6, 7]]);
  const log = testLog();
  const live = hearOnline(store);
  const lostFirst = new LostWorkFirst({ store, publisher: wq.queue, live, ineligible: () => null, clock: () => NOW, log });
  const claims = new ClaimService(store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), () => NOW, log, () => undefined, (id) => lostFirst.requeued(id));
  const deps = { ...defaultSchedulingDeps(), live, store, publisher: wq.queue, policy: DEFAULT_FARM_POLICY, clock: () => NOW, log };
  /** The dispatcher's pass: lost work placed first, then the scheduling pass. */
  const pass = async (): Promise<void> => {
    await lostFirst.place(deps.published, deps.onPlaced);
    await runDispatchPass(deps);
  };
  const js = jetstream(wq.nc);
  const pool = await js.consumers.get(WORK_STREAM, POOL_CONSUMER);
  const own = await js.consumers.get(WORK_STREAM, agentConsumerName("solo"));
  /** The agent's next message: its own subject's first when one waits there (the store says so), else the pool's; claimed, then acked. */
  const takeNext = async (): Promise<string | null> => {
    const from: Consumer = store.chunks.placedOn("solo").length > 0 ? own : pool;
    const m = await from.next({ expires: 1000 });
    if (!m) return null;
    const msg = decodeJson(WorkMessageSchema, m.data);
    const claim = claims.claim("solo", msg.chunkId, msg.dispatchId);
    assert.equal(claim.skip, false, `claim of ${msg.chunkId}`);
    await m.ackAck();
    return msg.chunkId;
  };

  await pass();
  assert.equal(await takeNext(), "low_c0");
  await pass();
  // The agent's link is cut as a high job comes: its attempt of low_c0 is lost and the chunk requeued.
  const high = insertJob(store, { id: "high", priority: 50, frameEnd: 3 });
  insertChunks(store, high.id, [[0, 1], [2, 3]]);
  const attempt = store.attempts.runningForAgent("solo")[0];
  assert.ok(attempt);
  assert.equal(claims.loseAttempt(attempt.id, "link cut"), 1);

  const order: string[] = [];
  for (let i = 0; i < 8; i++) {
    await pass();
    const next = await takeNext();
    if (next === null) break;
    order.push(next);
  }
  t.diagnostic(`order after the loss: ${order.join(" ")}`);
  // The two low chunks in the pool when the high job came stay where they are (priority-gate.ts).
  assert.deepEqual(order, ["low_c1", "low_c2", "high_c0", "high_c1", "low_c0", "low_c3"], "the high job's chunks, then the lost chunk, then the rest of the low job");
});
