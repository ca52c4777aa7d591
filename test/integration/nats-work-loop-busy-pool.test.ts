import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { agentConsumerName } from "../../shared/protocol/subjects.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

/**
 * What the work loop does with a pool message that reaches an agent whose
 * claim-ahead lapsed while its pool pull was open (agent/nats/work-loop.ts,
 * busy path): it hands it back (nak, 100 ms) instead of keeping it beside the
 * one chunk in hand. Measured here, to judge whether keeping it would be
 * better: alone on the farm the agent gets the message again once it is free
 * (one redelivery, no time lost: it was busy anyway); with another agent idle,
 * that agent starts it while the first one's chunk still runs, which a kept
 * message (pending ack on the busy agent) would have waited behind. So the
 * message is handed back, as before.
 */

const ACK_WAIT_S = 10;

interface Handled {
  agent: string;
  chunkId: string;
  delivery: number;
  /** Whether agent a's placed chunk was still in hand when this one started. */
  whileBusy: boolean;
}

async function busyAgentGetsPoolMessage(t: TestContext, withIdleAgent: boolean): Promise<Handled[]> {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  await wq.queue.ensureAgentConsumer("a");
  const handled: Handled[] = [];
  let release: (() => void) | undefined;
  let allowAnother = true;
  const { loop } = await wq.startLoop(
    async (msg: WorkMessage, delivery) => {
      handled.push({ agent: "a", chunkId: msg.chunkId, delivery, whileBusy: release !== undefined });
      if (msg.chunkId === "placed") await new Promise<void>((r) => (release = r));
    },
    { agentConsumer: agentConsumerName("a"), mayTakeAnother: () => allowAnother, pullExpiresMs: 5_000 },
  );
  defer(t, () => release?.()); // before the loop's stop, which waits for the chunk in hand
  // Agent a runs a placed chunk; near its end it may claim ahead: its pulls are open again.
  await wq.queue.publish({ chunkId: "placed", jobId: "job_1", dispatchId: "dsp_0" }, "a");
  await eventually(() => release !== undefined, "agent a to run its placed chunk");
  await eventually(async () => (await wq.pool()).num_waiting >= 1, "agent a's pool pull to be open");
  // Its claim-ahead lapses (the agent would call wake() only when it turns true again).
  allowAnother = false;
  if (withIdleAgent) {
    // An idle agent's pool pull, queued behind agent a's.
    await wq.startLoop(async (msg, delivery) => void handled.push({ agent: "b", chunkId: msg.chunkId, delivery, whileBusy: release !== undefined }), { pullExpiresMs: 5_000 });
    await eventually(async () => (await wq.pool()).num_waiting >= 2, "agent b's pool pull to be open");
  }
  const publishedAt = performance.now();
  await wq.queue.publish({ chunkId: "pool", jobId: "job_1", dispatchId: "dsp_1" });
  // Delivered to agent a's open pull (its delivery 2 below says it was handed back), or taken by agent b.
  await eventually(async () => (await wq.pool()).delivered.consumer_seq >= 1, "the pool message to reach a pull");
  if (withIdleAgent) {
    await eventually(() => handled.some((h) => h.chunkId === "pool"), "agent b to take the pool message", 5_000, 5);
    t.diagnostic(`agent b started the handed-back pool message ${Math.round(performance.now() - publishedAt)} ms after its publish (polled every 5 ms), agent a still busy`);
  }
  release?.();
  release = undefined;
  loop.wake();
  await eventually(() => handled.some((h) => h.chunkId === "pool"), "the pool message to be handled");
  await eventually(async () => (await wq.streamMessages()) === 0, "every message acked");
  return handled;
}

const placedFirst: Handled = { agent: "a", chunkId: "placed", delivery: 1, whileBusy: false };
const cases: Array<[name: string, withIdleAgent: boolean, pool: Handled]> = [
  ["alone on the farm, a busy agent hands a pool message back and gets it again once free: one redelivery", false, { agent: "a", chunkId: "pool", delivery: 2, whileBusy: false }],
  ["with another agent idle, the handed-back pool message starts there while the busy agent's chunk still runs", true, { agent: "b", chunkId: "pool", delivery: 2, whileBusy: true }],
];
for (const [name, withIdleAgent, pool] of cases) {
  test(name, async (t) => {
    const handled = await busyAgentGetsPoolMessage(t, withIdleAgent);
    t.diagnostic(JSON.stringify(handled));
    assert.deepEqual(handled, [placedFirst, pool]);
  });
}
