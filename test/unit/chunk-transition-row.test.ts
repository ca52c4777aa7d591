// ChunksTable#transition returns the chunk's new row without reading it back
// (coordinator/store/chunks-table.ts): what it returns must be exactly what
// the store holds, for every field the UPDATE touches or leaves alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";

test("every transition returns the row the store holds afterwards", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store);
  const [c] = insertChunks(store, job.id, [[0, 9]]);
  const id = c!.id;
  const check = (row: ReturnType<typeof store.chunks.transition>, when: string) => assert.deepEqual(row, store.chunks.get(id), when);

  check(store.chunks.transition(id, "queued", 1_100, { dispatchId: "dsp_1", placedAgentId: "agt_a" }), "queued on an agent's subject");
  check(store.chunks.transition(id, "running", 1_200, { currentAttemptId: "att_1", countAttempt: true }), "claimed");
  store.chunks.setAttempts(id, { specDispatchId: "dsp_copy", specAgentId: "agt_b", specAttemptId: "att_copy" });
  check(store.chunks.transition(id, "pending", 1_300, { currentAttemptId: null, dispatchId: null, error: "boom", countFailure: true }), "failed, retried: copy fields cleared");
  check(store.chunks.transition(id, "queued", 1_400, { dispatchId: "dsp_2" }), "queued in the pool (placedAgentId null)");
  store.chunks.setAttempts(id, { specDispatchId: "dsp_copy2", specAgentId: "agt_c" });
  check(store.chunks.transition(id, "running", 1_500, { currentAttemptId: "att_2", countAttempt: true }), "claimed again: error and copy fields kept");
  check(store.chunks.transition(id, "done", 1_600, { error: null }), "done");
  const done = store.chunks.get(id)!;
  assert.deepEqual(
    [done.state, done.attempts, done.failures, done.dispatchId, done.currentAttemptId, done.placedAgentId, done.specAttemptId, done.updatedAt],
    ["done", 2, 1, "dsp_2", "att_2", null, null, 1_600],
  );
});

test("a transition given the row read earlier in its transaction writes and returns the same as one that reads it", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store);
  const [a, b] = insertChunks(store, job.id, [[0, 4], [5, 9]]);
  for (const c of [a!, b!]) store.chunks.transition(c.id, "queued", 1_100, { dispatchId: `dsp_${c.id}` });
  const given = store.tx(() => store.chunks.transition(a!.id, "running", 1_200, { currentAttemptId: "att_a", countAttempt: true }, store.chunks.get(a!.id)));
  const read = store.chunks.transition(b!.id, "running", 1_200, { currentAttemptId: "att_b", countAttempt: true });
  assert.deepEqual(given, store.chunks.get(a!.id));
  assert.deepEqual(read, store.chunks.get(b!.id));
  assert.deepEqual([given.state, given.attempts, given.updatedAt], [read.state, read.attempts, read.updatedAt]);
  // A row of another chunk is not taken for this one: the transition reads its own.
  const other = store.chunks.transition(a!.id, "done", 1_300, {}, store.chunks.get(b!.id));
  assert.equal(other.id, a!.id);
  assert.deepEqual(other, store.chunks.get(a!.id));
});
