import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { runDispatchPass } from "../../coordinator/scheduling/dispatch-pass.ts";
import { defaultSchedulingDeps } from "../../coordinator/scheduling/scheduling-deps.ts";
import { WorkMessageSchema, decodeJson } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { hearOnline } from "../helpers/heartbeat-fixture.ts";
import { insertAgent, insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

/**
 * The priority inversion seen in scheduling-farm.test.ts under load, made to
 * happen every time: a real nats-server work queue, the real dispatch pass
 * and claim rules over a store, and the test pulling the pool as the one
 * agent's work loop does. The agent runs a high job's first chunk; the high
 * job's second chunk reaches it while it is busy and is handed back for
 * 100 ms (agent/nats/work-loop.ts). JetStream then gives the next pull any
 * message published behind it: before the priority rule
 * (coordinator/scheduling/priority-gate.ts), a low job's chunk that the pass
 * had put in the pool's free place.
 */

const NOW = 10_000;

test("a high-priority chunk handed back by a busy agent is the agent's next chunk, not a low chunk published behind it", async (t) => {
  const wq = await startWorkQueue(t, 30);
  const { store } = openTempStore(t);
  insertAgent(store, { id: "solo" });
  const low = insertJob(store, { id: "low", priority: 0, frameEnd: 15 });
  const high = insertJob(store, { id: "high", priority: 50, frameEnd: 3 });
  insertChunks(store, low.id, Array.from({ length: 8 }, (_, i) => [2 * i, 2 * i + 1] as const));
  insertChunks(store, high.id, [[0, 1], [2, 3]]);
  const claims = new ClaimService(store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), () => NOW, testLog(), () => undefined);
  const deps = { ...defaultSchedulingDeps(), live: hearOnline(store), store, publisher: wq.queue, policy: DEFAULT_FARM_POLICY, clock: () => NOW, log: testLog() };
  const pass = (): Promise<void> => runDispatchPass(deps);
  const pool = await jetstream(wq.nc).consumers.get(WORK_STREAM, POOL_CONSUMER);
  const pull = async (): Promise<{ m: JsMsg; chunkId: string } | null> => {
    const m = await pool.next({ expires: 1000 });
    return m ? { m, chunkId: decodeJson(WorkMessageSchema, m.data).chunkId } : null;
  };
  /** What the agent does with a message it runs: claim (the store's rules), then ack. */
  const take = async (got: { m: JsMsg; chunkId: string }): Promise<void> => {
    const msg = decodeJson(WorkMessageSchema, got.m.data);
    const claim = claims.claim("solo", msg.chunkId, msg.dispatchId);
    assert.equal(claim.skip, false, `claim of ${msg.chunkId}`);
    await got.m.ackAck();
  };

  await pass();
  assert.deepEqual(store.chunks.listByJob(high.id).map((c) => c.state), ["queued", "queued"], "the high job's two chunks fill the pool's room");

  const first = await pull();
  assert.equal(first?.chunkId, "high_c0");
  await take(first!);
  // A claim asks for a pass: the pool has room for one more message.
  await pass();

  const second = await pull();
  assert.equal(second?.chunkId, "high_c1");
  second!.m.nak(100); // the agent became busy while its pull was open: handed back for an idle agent

  const next = await pull();
  assert.equal(next?.chunkId, "high_c1", `the agent's next chunk (a low one overtook the handed-back high chunk: ${next?.chunkId ?? "none"})`);
  await take(next!);
  await pass();
  const after = await pull();
  assert.equal(after?.chunkId, "low_c0", "with the high job all claimed, the low job goes on");
  await take(after!);
});
