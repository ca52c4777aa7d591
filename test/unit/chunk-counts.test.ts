import { test } from "node:test";
import assert from "node:assert/strict";
import { insertChunks, insertJob, openTempStore, queueChunk } from "../helpers/store-fixture.ts";

test("the listing's counts of every job in one query equal each job's own counts", (t) => {
  const { store } = openTempStore(t);
  const a = insertJob(store, { id: "job_a" });
  const b = insertJob(store, { id: "job_b" });
  insertJob(store, { id: "job_empty" });
  const ca = insertChunks(store, a.id, [[0, 9], [10, 19], [20, 24]]);
  insertChunks(store, b.id, [[0, 0], [1, 1]]);
  for (const c of ca.slice(0, 2)) {
    queueChunk(store, c.id);
    store.chunks.transition(c.id, "running", 1_500, { currentAttemptId: `att_${c.id}` });
  }
  store.chunks.transition(ca[0]!.id, "done", 2_000);
  store.chunks.transition(ca[1]!.id, "failed", 2_000, { error: "boom" });

  const all = store.chunks.countsByJob();
  assert.deepEqual(all.get("job_a"), store.chunks.counts("job_a"));
  assert.deepEqual(all.get("job_b"), store.chunks.counts("job_b"));
  assert.deepEqual(all.get("job_a"), { total: 3, done: 1, failed: 1, cancelled: 0, open: 1, framesTotal: 25, framesDone: 10 });
  assert.equal(all.has("job_empty"), false, "a job without chunks is absent");
});
