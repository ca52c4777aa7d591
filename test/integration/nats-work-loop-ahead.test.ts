import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { eventually } from "../helpers/eventually.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

/**
 * The work loop takes a next message while one is in hand only when the
 * agent says so (mayTakeAnother: claiming ahead while the last chunk
 * finishes); otherwise one at a time, as before. Every message is acked once.
 */

const ACK_WAIT_S = 5;

async function run(t: TestContext, allowAnother: ((inHand: number) => boolean) | undefined): Promise<number> {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  let inHand = 0;
  let most = 0;
  let handled = 0;
  const gates: Array<() => void> = [];
  const { loop } = await wq.startLoop(
    async () => {
      inHand++;
      most = Math.max(most, inHand);
      await new Promise<void>((r) => gates.push(r));
      inHand--;
      handled++;
    },
    { ...(allowAnother ? { mayTakeAnother: () => allowAnother(inHand) } : {}) },
  );
  for (let i = 0; i < 4; i++) await wq.queue.publish({ chunkId: `chunk_${i}`, jobId: "job_1", dispatchId: `dsp_${i}` });
  // Let each message in hand go once the loop has had every chance to take more.
  for (let released = 0; released < 4; released++) {
    await eventually(() => gates.length > 0, "a message in hand", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    gates.shift()!();
    loop.wake();
  }
  await eventually(() => handled === 4, "every message handled");
  await eventually(async () => (await wq.streamMessages()) === 0, "every message acked");
  assert.equal((await wq.pool()).num_redelivered, 0);
  return most;
}

test("without mayTakeAnother the loop holds one message at a time", async (t) => {
  assert.equal(await run(t, undefined), 1);
});

test("with mayTakeAnother the loop takes a second message while one is in hand, and no more than the agent allows", async (t) => {
  // The agent's rule in miniature: one ahead at most.
  assert.equal(await run(t, (inHand) => inHand < 2), 2);
});
