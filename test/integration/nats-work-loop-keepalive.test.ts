import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import { POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { eventually } from "../helpers/eventually.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

const ACK_WAIT_S = 2;

test("control: a pulled message that is not kept alive is redelivered to another puller after ack wait", async (t) => {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  await wq.queue.publish({ chunkId: "chunk_c", jobId: "job_1", dispatchId: "dsp_c" });
  // A dead agent: pulls the message and never acks or sends progress.
  const consumer = await jetstream(wq.nc).consumers.get(WORK_STREAM, POOL_CONSUMER);
  const first = await consumer.next({ expires: 2000 });
  assert.ok(first, "the message is pulled");
  const deliveries: number[] = [];
  await wq.startLoop(async (_msg, delivery) => {
    deliveries.push(delivery);
  });
  await eventually(() => deliveries.length === 1, "redelivery to the live agent", ACK_WAIT_S * 1000 + 3000);
  assert.deepEqual(deliveries, [2]);
});

test("a handler running longer than ack wait is kept alive by in-progress acks: no redelivery meanwhile", async (t) => {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  const calls: Array<{ agent: string; delivery: number }> = [];
  let finished = false;
  const handler = (agent: string) => async (_msg: unknown, delivery: number) => {
    calls.push({ agent, delivery });
    await sleep(5000); // 2.5 x ack wait
    finished = true;
  };
  // Two agents pull from the same pool: a redelivery would reach the idle one.
  await wq.startLoop(handler("a"));
  await wq.startLoop(handler("b"));
  await wq.queue.publish({ chunkId: "chunk_long", jobId: "job_1", dispatchId: "dsp_long" });
  await eventually(() => calls.length === 1, "the handler to start");
  await eventually(() => finished, "the long handler to finish", 8000, 50);
  await eventually(async () => (await wq.streamMessages()) === 0, "the message to be acked");
  assert.equal(calls.length, 1, `handled once, not redelivered (${JSON.stringify(calls)})`);
  assert.equal(calls[0]!.delivery, 1);
  const pool = await wq.pool();
  assert.equal(pool.num_redelivered, 0);
  assert.equal(pool.delivered.consumer_seq, 1);
});
