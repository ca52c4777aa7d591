import { test } from "node:test";
import assert from "node:assert/strict";
import { JobFinisher } from "../../coordinator/jobs/job-finisher.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertChunks, insertJob, openTempStore, queueChunk } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

test("the finisher's check passes the job's current state to listeners, none while the job ends, and waitFor resolves at the end", async (t) => {
  const { store } = openTempStore(t);
  const clock = manualClock(10_000);
  const job = insertJob(store, { state: "running" });
  store.db.prepare(`UPDATE jobs SET spec_json = ? WHERE id = ?`).run(JSON.stringify({ steps: [] }), job.id);
  const [a, b] = insertChunks(store, job.id, [[0, 4], [5, 9]]).map((c) => c.id) as [string, string];
  const finisher = new JobFinisher(store, new JobSpecs(), clock.now, testLog());
  const seen: Array<{ state: string | undefined; stored: string | undefined }> = [];
  finisher.on("changed", (id: string, state?: string) => {
    if (id === job.id) seen.push({ state, stored: store.jobs.stateOf(id) });
  });
  const ended = finisher.waitFor(job.id);
  const finish = (chunkId: string): void => {
    queueChunk(store, chunkId);
    store.chunks.transition(chunkId, "running", clock.now());
    store.chunks.transition(chunkId, "done", clock.now());
  };
  finish(a);
  finisher.check(job.id);
  assert.deepEqual(seen, [{ state: "running", stored: "running" }], "one chunk open: the state read is given");
  finisher.check("no-such-job");
  finish(b);
  finisher.check(job.id);
  assert.deepEqual(seen.at(-1), { state: undefined, stored: "done" }, "the last chunk: the job ended in the check, no state given");
  assert.equal((await ended).state, "done");
  // A state given is trusted by waiters only while it is not terminal: a later cancel elsewhere (no state) is read.
  const other = insertJob(store, { state: "running" });
  insertChunks(store, other.id, [[0, 0]]);
  const waiting = finisher.waitFor(other.id);
  finisher.check(other.id);
  store.jobs.transition(other.id, "cancelled", clock.now());
  finisher.emit("changed", other.id);
  assert.equal((await waiting).state, "cancelled");
});
