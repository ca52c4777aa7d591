import assert from "node:assert/strict";
import { test } from "node:test";
import { agentConsumerName } from "../../shared/protocol/subjects.ts";
import type { TakenNext } from "../../agent/nats/work-loop.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

/**
 * A chunk placed on a busy agent is claimed while the agent's claim for its
 * next chunk (takeNext) is still in flight, not after its answer: the
 * coordinator answers that claim none while a chunk waits on the agent's
 * subject (coordinator/scheduling/pick-next.ts), so waiting for it cost every
 * placed second chunk a claim round trip (the 64-agent scaling bench, 61 of 64
 * agents: p50 68 ms). The agent's rule here (mayTakeAnother) lets the placed
 * message go and holds a pool pull back, as agent.ts does with claim-ahead.ts.
 */

test("a placed message is handled while the claim for the next chunk is in flight", async (t) => {
  const wq = await startWorkQueue(t, 10);
  await wq.queue.ensureAgentConsumer("a");
  const handled: Array<{ chunkId: string; askOpen: boolean }> = [];
  let askOpen = false;
  let answerAsk: ((v: TakenNext | null) => void) | undefined;
  let releaseFirst: (() => void) | undefined;
  let asks = 0;
  const { loop } = await wq.startLoop(
    async (msg) => {
      handled.push({ chunkId: msg.chunkId, askOpen });
      if (msg.chunkId === "first") await new Promise<void>((r) => (releaseFirst = r));
    },
    {
      agentConsumer: agentConsumerName("a"),
      pullExpiresMs: 1_000,
      // The agent near its first chunk's end: one more chunk, not counting the ask in flight for a placed one.
      mayTakeAnother: (placed) => handled.length < 2 && (placed || !askOpen),
      takeNext: () => {
        if (handled.length === 0) return Promise.resolve(null); // idle at start: none, the loop pulls
        asks++;
        askOpen = true;
        return new Promise<TakenNext | null>((r) => (answerAsk = r)).finally(() => (askOpen = false));
      },
    },
  );
  defer(t, () => {
    answerAsk?.(null);
    releaseFirst?.();
  });
  await wq.queue.publish({ chunkId: "first", jobId: "job_1", dispatchId: "dsp_0" }, "a");
  await eventually(() => releaseFirst !== undefined, "the first placed chunk to run");
  loop.wake();
  await eventually(() => askOpen, "the claim for the next chunk to be in flight");
  await wq.queue.publish({ chunkId: "second", jobId: "job_1", dispatchId: "dsp_1" }, "a");
  await eventually(() => handled.length === 2, "the second placed chunk to be handled", 5_000);
  assert.deepEqual(handled, [
    { chunkId: "first", askOpen: false },
    { chunkId: "second", askOpen: true },
  ]);
  assert.equal(asks, 1);
  answerAsk?.(null);
  releaseFirst?.();
  await eventually(async () => (await wq.streamMessages()) === 0, "every message acked");
});
