import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { watchDeadLetters } from "../../coordinator/nats/dead-letter-watch.ts";
import { POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

const MAX_DELIVER = 3;

/** A real nats-server work queue whose pool consumer gives up after MAX_DELIVER deliveries, the watch, and a store with two queued chunks. */
async function setup(t: Parameters<typeof startWorkQueue>[0]) {
  const wq = await startWorkQueue(t, 30, MAX_DELIVER);
  const farm = seedFarm(t);
  const changed: string[] = [];
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => {
    throw new Error("no claim in this test");
  }, manualClock().now, testLog(), (jobId) => changed.push(jobId));
  const sub = watchDeadLetters(wq.nc, wq.queue, (chunkId, dispatchId) => claims.dropUndelivered(chunkId, dispatchId), testLog());
  defer(t, () => sub.unsubscribe());
  await wq.nc.flush();
  return { wq, farm, changed };
}

/** Pulls the pool's next message and hands it straight back, as a busy agent does; returns its delivery count. */
async function bounce(wq: Awaited<ReturnType<typeof startWorkQueue>>): Promise<number | undefined> {
  const consumer = await jetstream(wq.nc).consumers.get(WORK_STREAM, POOL_CONSUMER);
  const m = await consumer.next({ expires: 1000 });
  if (!m) return undefined;
  m.nak();
  return m.info.deliveryCount;
}

test("a work message handed back until JetStream's delivery limit is deleted and its chunk goes back to pending for a fresh message", async (t) => {
  const { wq, farm, changed } = await setup(t);
  const chunk = farm.chunks[0]!;
  const dispatchId = queueChunk(farm.store, chunk.id);
  await wq.queue.publish({ chunkId: chunk.id, jobId: farm.job.id, dispatchId });

  const deliveries: number[] = [];
  for (let i = 0; i < MAX_DELIVER; i++) deliveries.push((await bounce(wq)) ?? -1);
  assert.deepEqual(deliveries, [1, 2, 3]);
  // nats-server raises the advisory when it would deliver the message again, i.e. on the next pull (agents always have one open).
  assert.equal(await bounce(wq), undefined, "JetStream delivers it no more");

  await eventually(() => farm.store.chunks.get(chunk.id)?.state === "pending", "the chunk to go back to pending");
  assert.equal(farm.store.chunks.get(chunk.id)?.dispatchId, null, "the dead message's dispatch id is cleared");
  assert.deepEqual(changed, [farm.job.id], "the dispatcher is told, so it publishes a fresh message");
  await eventually(async () => (await wq.streamMessages()) === 0, "the dead message to be deleted from the work stream");
  assert.equal(farm.store.chunks.get(farm.chunks[1]!.id)?.state, "pending", "the other chunk is untouched");
});

test("a dead message that is no longer its chunk's current one is deleted and changes nothing", async (t) => {
  const { wq, farm, changed } = await setup(t);
  const chunk = farm.chunks[0]!;
  const old = queueChunk(farm.store, chunk.id);
  await wq.queue.publish({ chunkId: chunk.id, jobId: farm.job.id, dispatchId: old });
  // The coordinator re-dispatched the chunk meanwhile (a restart, an end-of-job re-cut): the old message is stale.
  farm.store.chunks.transition(chunk.id, "pending", 2_000, { dispatchId: null });
  const current = queueChunk(farm.store, chunk.id, undefined, 3_000);

  for (let i = 0; i < MAX_DELIVER; i++) await bounce(wq);
  // nats-server raises the advisory when it would deliver the message again, i.e. on the next pull.
  assert.equal(await bounce(wq), undefined);
  await eventually(async () => (await wq.streamMessages()) === 0, "the dead message to be deleted");
  const after = farm.store.chunks.get(chunk.id);
  assert.equal(after?.state, "queued");
  assert.equal(after?.dispatchId, current, "the live dispatch stays");
  assert.deepEqual(changed, []);
});
