import assert from "node:assert/strict";
import { test } from "node:test";
import { recoverAfterRestart } from "../../coordinator/recover-after-restart.ts";
import type { AttemptState } from "../../shared/lifecycle/states.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

test("a restart re-dispatches every queued chunk, and names those whose last attempt was lost or handed back (lost work, placed first again)", (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14], [15, 19], [20, 24]] });
  const [lost, handedBack, failed, fresh, pending] = farm.chunks.map((c) => c.id) as [string, string, string, string, string];
  /** One attempt at the chunk that ended `how`, then the chunk queued again (in the pool, or placed). */
  const ranThenQueued = (chunkId: string, how: AttemptState, n: number): void => {
    ranThenPending(farm, chunkId, how, n);
    queueChunk(farm.store, chunkId, `dsp-again-${n}`, 1_300);
  };
  ranThenQueued(lost, "lost", 1);
  ranThenQueued(handedBack, "handed-back", 2);
  ranThenQueued(failed, "failed", 3);
  queueChunk(farm.store, fresh, "dsp-fresh", 1_000);

  const lostWork = recoverAfterRestart(farm.store, manualClock(5_000).now, testLog());
  assert.deepEqual(lostWork.sort(), [lost, handedBack].sort(), "a failed chunk is retried in its turn; a fresh one was never run");
  for (const id of [lost, handedBack, failed, fresh, pending]) {
    const row = farm.store.chunks.get(id);
    assert.equal(row?.state, "pending", id);
    assert.equal(row?.dispatchId, null, "old messages are refused at claim as stale");
  }
});

test("a restart names as lost work a pending chunk whose last attempt was lost or handed back (requeued, not placed yet when the coordinator died)", (t) => {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14], [15, 19]] });
  const [lost, handedBack, failed, fresh] = farm.chunks.map((c) => c.id) as [string, string, string, string];
  ranThenPending(farm, lost, "lost", 1);
  ranThenPending(farm, handedBack, "handed-back", 2);
  ranThenPending(farm, failed, "failed", 3);

  const lostWork = recoverAfterRestart(farm.store, manualClock(5_000).now, testLog());
  assert.deepEqual(lostWork.sort(), [lost, handedBack].sort(), "a failed chunk is retried in its turn; a fresh one was never run");
  for (const id of [lost, handedBack, failed, fresh]) assert.equal(farm.store.chunks.get(id)?.state, "pending", id);
});

/** One attempt at the chunk that ended `how`; the chunk back to pending (requeued, not placed yet). */
function ranThenPending(farm: ReturnType<typeof seedFarm>, chunkId: string, how: AttemptState, n: number): void {
  queueChunk(farm.store, chunkId, `dsp-${n}`, 1_000);
  farm.store.attempts.insert({ id: `att-${n}`, chunkId, jobId: farm.job.id, agentId: farm.agent.id, createdAt: 1_000 + n });
  farm.store.chunks.transition(chunkId, "running", 1_100, { currentAttemptId: `att-${n}`, countAttempt: true });
  farm.store.attempts.finish(`att-${n}`, how, 1_200);
  farm.store.chunks.transition(chunkId, "pending", 1_200, { currentAttemptId: null, dispatchId: null });
}
