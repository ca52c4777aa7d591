import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import { eventually } from "../helpers/eventually.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

const ACK_WAIT_S = 2;

test("a published work message reaches the handler and is acked: the stream is empty afterwards", async (t) => {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  const got: Array<[WorkMessage, number]> = [];
  await wq.startLoop(async (msg, delivery) => {
    got.push([msg, delivery]);
  });
  const msg: WorkMessage = { chunkId: "chunk_1", jobId: "job_1", dispatchId: "dsp_1" };
  await wq.queue.publish(msg);
  await eventually(() => got.length === 1, "the handler to run");
  assert.deepEqual(got, [[msg, 1]]);
  await eventually(async () => (await wq.streamMessages()) === 0, "the acked message to leave the work-queue stream");
  const pool = await wq.pool();
  assert.equal(pool.num_ack_pending, 0);
  assert.equal(pool.num_redelivered, 0);
});

test("a malformed message is terminated: never handed to the handler, never redelivered", async (t) => {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  const got: WorkMessage[] = [];
  await wq.startLoop(async (msg) => {
    got.push(msg);
  });
  await wq.nc.publish(wq.queue.subjects.workPool, new TextEncoder().encode("{not json"));
  await wq.nc.publish(wq.queue.subjects.workPool, new TextEncoder().encode(JSON.stringify({ chunkId: "", jobId: "j" })));
  await wq.nc.flush();
  await eventually(async () => (await wq.pool()).delivered.consumer_seq === 2, "both messages to be delivered once");
  // Well past the ack wait: a message that was merely left un-acked would be delivered again by now.
  await sleep(ACK_WAIT_S * 1000 + 700);
  const pool = await wq.pool();
  assert.equal(pool.delivered.consumer_seq, 2, "no further deliveries");
  assert.equal(pool.num_redelivered, 0);
  assert.equal(pool.num_ack_pending, 0);
  assert.deepEqual(got, []);
  // A good message still flows after the bad ones.
  await wq.queue.publish({ chunkId: "chunk_ok", jobId: "job_1", dispatchId: "dsp_ok" });
  await eventually(() => got.length === 1, "the good message to be handled");
});

test("a handler that throws gets the message again (delivery 2), and the second success acks it", async (t) => {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  const deliveries: number[] = [];
  // Long pulls (idle heartbeat 2.5 s): with 1 s pulls a loaded CI run once saw delivery 1 twice, most likely a missed
  // pull heartbeat tearing the pull down as the message arrived on it (not reproduced; see the issue 5 note).
  await wq.startLoop(
    async (_msg, delivery) => {
      deliveries.push(delivery);
      if (delivery === 1) throw new Error("coordinator unreachable");
    },
    { pullExpiresMs: 5000 },
  );
  await wq.queue.publish({ chunkId: "chunk_r", jobId: "job_1", dispatchId: "dsp_r" });
  await eventually(() => deliveries.length === 2, "the message to be redelivered", 8000);
  assert.deepEqual(deliveries, [1, 2]);
  await eventually(async () => (await wq.streamMessages()) === 0, "the redelivered message to be acked");
});

test("retracting a message while NATS is unreachable resolves quietly: a dispatch pass must not crash the coordinator", async (t) => {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  const seq = await wq.queue.publish({ chunkId: "chunk_x", jobId: "job_1", dispatchId: "dsp_x" });
  await wq.nc.close();
  await wq.queue.retract(seq); // rejected before: an unhandled rejection that ended the coordinator in the soak
  await wq.queue.retract(seq + 100);
});
