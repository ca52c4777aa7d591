import { test } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { Store } from "../../coordinator/store/store.ts";
import { MIGRATIONS } from "../../coordinator/store/migrations.ts";
import { insertChunks, insertJob, openTempStore, queueChunk } from "../helpers/store-fixture.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { join } from "node:path";

/** The kept unstarted counts equal the counted ones, and the kept bound is at least the biggest unstarted chunk. */
function assertKept(store: Store, jobId: string, when: string): void {
  const kept = store.chunks.unstarted(jobId);
  const counted = store.chunks.unstartedCounted(jobId);
  assert.deepEqual({ chunks: kept.chunks, frames: kept.frames }, { chunks: counted.chunks, frames: counted.frames }, when);
  assert.ok(kept.biggestBound >= counted.biggest, `${when}: bound ${kept.biggestBound} < biggest ${counted.biggest}`);
}

test("a job's unstarted chunks and frames are kept through every change: queue, run, retry, done, fail, cancel, cut", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { id: "job_u" });
  const [c0, c1, c2, c3] = insertChunks(store, job.id, [[0, 9], [10, 19], [20, 29], [30, 44]]).map((c) => c.id) as [string, string, string, string];
  assertKept(store, job.id, "planned");
  assert.deepEqual(store.chunks.unstarted(job.id), { chunks: 4, frames: 45, biggestBound: 15 });
  queueChunk(store, c0);
  assertKept(store, job.id, "queued (still unstarted)");
  assert.equal(store.chunks.unstarted(job.id).chunks, 4);
  store.chunks.transition(c0, "running", 1_100, { currentAttemptId: "att_0" });
  assertKept(store, job.id, "running");
  assert.deepEqual(store.chunks.unstarted(job.id), { chunks: 3, frames: 35, biggestBound: 15 });
  store.chunks.transition(c0, "pending", 1_200, { currentAttemptId: null, countFailure: true });
  assertKept(store, job.id, "lost, back to pending");
  queueChunk(store, c0);
  store.chunks.transition(c0, "running", 1_300, { currentAttemptId: "att_1" });
  store.chunks.transition(c0, "done", 1_400);
  assertKept(store, job.id, "done");
  // An end-of-job cut: the last chunk shortened and a new piece inserted after it.
  store.chunks.shorten(c3, 36, 36, 1_500);
  store.chunks.insert({ id: `${job.id}_c4`, jobId: job.id, idx: 4, frameStart: 37, frameEnd: 44, contextStart: 37, contextEnd: 44, updatedAt: 1_500 });
  assertKept(store, job.id, "cut");
  assert.equal(store.chunks.unstarted(job.id).biggestBound, 15, "the bound is never lowered");
  queueChunk(store, c1);
  store.chunks.transition(c1, "running", 1_600, { currentAttemptId: "att_2" });
  store.chunks.transition(c1, "failed", 1_700, { error: "boom" });
  store.chunks.transition(c2, "cancelled", 1_800);
  assertKept(store, job.id, "failed and cancelled");
  const left = store.chunks.unstarted(job.id);
  assert.deepEqual([left.chunks, left.frames], [2, 15], "the cut chunk and its new piece are what is left");
  assert.deepEqual(store.chunks.unstarted("job_none"), { chunks: 0, frames: 0, biggestBound: 0 });
});

test("a store made before the kept unstarted counts gets them filled in when it is opened", (t) => {
  const path = join(tempDir(t), "store.sqlite");
  const store = Store.open(path);
  const job = insertJob(store, { id: "job_old" });
  const chunks = insertChunks(store, job.id, [[0, 3], [4, 11], [12, 13]]);
  queueChunk(store, chunks[0]!.id);
  store.chunks.transition(chunks[1]!.id, "cancelled", 1_100);
  store.close();
  // Back to the schema before the unstarted-counts migration (and the jobs_by_state index and frames' manifest columns after it), as an older nightshift left it.
  const unstartedMigration = MIGRATIONS.findIndex((m) => m.includes("CREATE TRIGGER job_chunk_unstarted_insert"));
  const raw = new Database(path);
  raw.exec(`
    DROP TRIGGER job_chunk_unstarted_insert; DROP TRIGGER job_chunk_unstarted_delete; DROP TRIGGER job_chunk_unstarted_update;
    ALTER TABLE job_chunk_counts DROP COLUMN unstarted; ALTER TABLE job_chunk_counts DROP COLUMN frames_unstarted; ALTER TABLE job_chunk_counts DROP COLUMN frames_max;
    DROP INDEX chunks_by_job_state_idx; CREATE INDEX chunks_by_job_state ON chunks(job_id, state);
    DROP INDEX jobs_by_state;
    ALTER TABLE frames DROP COLUMN file_sha256; ALTER TABLE frames DROP COLUMN pixels_sha256;`);
  raw.pragma(`user_version = ${unstartedMigration}`);
  raw.close();
  const again = Store.open(path);
  t.after(() => again.close());
  assert.deepEqual(again.chunks.unstarted(job.id), { chunks: 2, frames: 6, biggestBound: 8 });
  assertKept(again, job.id, "after the migration");
});

test("the next pending chunks of a job are read in frame order through the job/state/idx index", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { id: "job_idx" });
  insertChunks(store, job.id, [[0, 0], [1, 1], [2, 2]]);
  const plan = store.db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM chunks WHERE job_id = ? AND state = 'pending' ORDER BY idx LIMIT 2`).all(job.id) as Array<{ detail: string }>;
  const text = plan.map((p) => p.detail).join("; ");
  assert.match(text, /chunks_by_job_state_idx/);
  assert.doesNotMatch(text, /TEMP B-TREE/, "no sort of every pending chunk");
});
