import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { watchDeadLetters } from "../../coordinator/nats/dead-letter-watch.ts";
import { agentConsumerName } from "../../shared/protocol/subjects.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

/**
 * A busy agent's hand-back of a pool message (nak, 100 ms; agent/nats/work-loop.ts) counts toward the pool
 * consumer's max deliveries. Measured here with real WorkLoops on a real nats-server: BUSY agents each run a
 * placed chunk with their pool pull left open (their claim-ahead lapsed), and one idle agent's pull is queued
 * behind theirs. One pool message then goes down the line of open pulls: each busy agent hands it back once
 * (a busy loop pulls the pool again only once it is free), so it reaches the idle agent at delivery BUSY + 1.
 * When the limit is at or under BUSY, JetStream gives up on it first: the dead-letter watch
 * (coordinator/nats/dead-letter-watch.ts, with the real ClaimService) deletes it and puts the chunk back to
 * pending, and a fresh message (published here as the dispatcher does on that change) goes on down the
 * line and reaches the idle agent. Either way the chunk runs once, on the idle agent, none lost; the time it
 * takes is about one nak delay per busy agent ahead, limit or not.
 */

const ACK_WAIT_S = 10;
const BUSY = 4;

interface Taken {
  dispatchId: string;
  delivery: number;
  ms: number;
}

async function poolMessagePastBusyAgents(t: TestContext, maxDeliver: number): Promise<{ taken: Taken[]; dropped: number; fresh: number }> {
  const wq = await startWorkQueue(t, ACK_WAIT_S, maxDeliver);
  const farm = seedFarm(t);
  const chunk = farm.chunks[0]!;
  let fresh = 0;
  let dropped = 0;
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => {
    throw new Error("no claim in this test");
  }, manualClock().now, testLog(), (jobId) => {
    // What the dispatcher does on this change: a fresh message for the pending chunk.
    fresh++;
    const dispatchId = queueChunk(farm.store, chunk.id);
    void wq.queue.publish({ chunkId: chunk.id, jobId, dispatchId });
  });
  const sub = watchDeadLetters(wq.nc, wq.queue, (chunkId, dispatchId) => {
    dropped++;
    return claims.dropUndelivered(chunkId, dispatchId);
  }, testLog());
  defer(t, () => sub.unsubscribe());

  const releases: Array<() => void> = [];
  for (let i = 0; i < BUSY; i++) {
    const name = `busy${i}`;
    await wq.queue.ensureAgentConsumer(name);
    let allowAnother = true;
    let running = false;
    await wq.startLoop(
      async (msg) => {
        assert.equal(msg.chunkId, `placed-${name}`, `${name} hands the pool message back, never runs it`);
        running = true;
        await new Promise<void>((r) => releases.push(r));
      },
      { agentConsumer: agentConsumerName(name), mayTakeAnother: () => allowAnother, pullExpiresMs: 20_000 },
    );
    await wq.queue.publish({ chunkId: `placed-${name}`, jobId: "job_placed", dispatchId: `dsp_${name}` }, name);
    await eventually(() => running, `${name} to run its placed chunk`);
    await eventually(async () => (await wq.pool()).num_waiting >= i + 1, `${name}'s pool pull to be open`);
    allowAnother = false;
  }
  const taken: Taken[] = [];
  let publishedAt = 0;
  await wq.startLoop(async (msg, delivery) => void taken.push({ dispatchId: msg.dispatchId, delivery, ms: Math.round(performance.now() - publishedAt) }), { pullExpiresMs: 20_000 });
  // Registered after the loops, so it runs before their stop (which waits for the chunks in hand).
  defer(t, () => releases.forEach((r) => r()));
  await eventually(async () => (await wq.pool()).num_waiting >= BUSY + 1, "the idle agent's pull, behind the busy ones");

  const dispatchId = queueChunk(farm.store, chunk.id);
  publishedAt = performance.now();
  await wq.queue.publish({ chunkId: chunk.id, jobId: farm.job.id, dispatchId });
  await eventually(() => taken.length > 0, "the idle agent to take the chunk", 15_000, 5);
  await eventually(async () => (await wq.streamMessages()) === BUSY, "the chunk's messages acked or deleted (the placed ones stay in hand)");
  return { taken, dropped, fresh };
}

test(`a pool message handed back by ${BUSY} busy agents reaches the idle agent behind them at delivery ${BUSY + 1} when the limit is above that`, async (t) => {
  const { taken, dropped, fresh } = await poolMessagePastBusyAgents(t, BUSY + 2);
  t.diagnostic(`max deliveries ${BUSY + 2}: ${JSON.stringify(taken)}`);
  assert.equal(taken.length, 1);
  assert.equal(taken[0]?.delivery, BUSY + 1, "each busy agent handed it back once");
  assert.deepEqual([dropped, fresh], [0, 0]);
});

test(`with the limit under the ${BUSY} busy agents JetStream gives up on the message; the chunk gets a fresh one and still reaches the idle agent, once`, async (t) => {
  const limit = 2;
  const { taken, dropped, fresh } = await poolMessagePastBusyAgents(t, limit);
  t.diagnostic(`max deliveries ${limit}: ${JSON.stringify(taken)}; dead-lettered ${dropped}, fresh messages ${fresh}`);
  assert.equal(taken.length, 1, "run once");
  assert.ok(dropped >= 1 && fresh >= 1, "the exhausted message was dropped and the chunk re-dispatched");
  assert.notEqual(taken[0]?.dispatchId, undefined);
});
