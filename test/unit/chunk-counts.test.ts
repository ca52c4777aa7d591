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

test("the kept counts follow every chunk change: states, retries, cancel, a shortened chunk", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { id: "job_kept" });
  const chunks = insertChunks(store, job.id, [[0, 9], [10, 19], [20, 29], [30, 39]]);
  const same = (when: string): void => assert.deepEqual(store.chunks.counts(job.id), store.chunks.countedFromChunks(job.id), when);
  same("after planning");
  const [c0, c1, c2, c3] = chunks as [(typeof chunks)[number], (typeof chunks)[number], (typeof chunks)[number], (typeof chunks)[number]];
  queueChunk(store, c0.id);
  same("queued");
  store.chunks.transition(c0.id, "running", 1_100, { currentAttemptId: "att_0" });
  store.chunks.transition(c0.id, "pending", 1_200, { currentAttemptId: null, countFailure: true }); // lost agent: retried
  same("back to pending");
  queueChunk(store, c0.id);
  store.chunks.transition(c0.id, "running", 1_300, { currentAttemptId: "att_1" });
  store.chunks.transition(c0.id, "done", 1_400);
  same("done");
  store.chunks.shorten(c3.id, 34, 34, 1_500);
  same("shortened");
  queueChunk(store, c1.id);
  store.chunks.transition(c1.id, "running", 1_600, { currentAttemptId: "att_2" });
  store.chunks.transition(c1.id, "failed", 1_700, { error: "boom" });
  store.chunks.transition(c2.id, "cancelled", 1_800);
  same("failed and cancelled");
  assert.deepEqual(store.chunks.counts(job.id), { total: 4, done: 1, failed: 1, cancelled: 1, open: 1, framesTotal: 35, framesDone: 10 });
  assert.deepEqual(store.chunks.counts("job_none"), { total: 0, done: 0, failed: 0, cancelled: 0, open: 0, framesTotal: 0, framesDone: 0 });
});
