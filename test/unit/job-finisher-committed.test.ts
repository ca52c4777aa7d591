import { test } from "node:test";
import assert from "node:assert/strict";
import { JobFinisher } from "../../coordinator/jobs/job-finisher.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import type { Store } from "../../coordinator/store/store.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertChunks, insertJob, openTempStore, queueChunk } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

/** A running job of `n` one-frame chunks, all running, a finisher over it, and a count of its counts reads. */
function setup(t: import("node:test").TestContext, n: number) {
  const { store } = openTempStore(t);
  const clock = manualClock(10_000);
  const job = insertJob(store, { state: "running" });
  store.db.prepare(`UPDATE jobs SET spec_json = ? WHERE id = ?`).run(JSON.stringify({ steps: [] }), job.id);
  const chunks = insertChunks(store, job.id, Array.from({ length: n }, (_, i) => [i, i] as [number, number])).map((c) => c.id);
  for (const id of chunks) {
    queueChunk(store, id);
    store.chunks.transition(id, "running", clock.now());
  }
  const finisher = new JobFinisher(store, new JobSpecs(), clock.now, testLog());
  const reads = { n: 0 };
  const read = store.jobs.stateWithCounts.bind(store.jobs);
  store.jobs.stateWithCounts = (id: string) => (reads.n++, read(id));
  const close = (id: string, to: "done" | "failed" | "cancelled"): void => void store.chunks.transition(id, to, clock.now());
  return { store, job, chunks, finisher, reads, close };
}

const stateOf = (store: Store, id: string): string | undefined => store.jobs.stateOf(id);

test("commits read the job's counts only when the job may end: the first (no floor yet) and the last; the job ends at its last commit", async (t) => {
  const { store, job, chunks, finisher, reads, close } = setup(t, 5);
  const states: Array<string | undefined> = [];
  finisher.on("changed", (id: string, state?: string) => void (id === job.id && states.push(state)));
  const ended = finisher.waitFor(job.id);
  for (const [i, id] of chunks.entries()) {
    close(id, "done");
    finisher.committed(job.id);
    if (i < chunks.length - 1) assert.equal(stateOf(store, job.id), "running", `still running after commit ${i + 1}`);
  }
  assert.equal(reads.n, 2, "5 commits, 2 reads: the first sets the floor (4 open), the fifth is at the floor's last chunk");
  assert.deepEqual(states, ["running", "running", "running", "running", undefined], "every commit is announced; the last one ends the job");
  assert.equal((await ended).state, "done");
});

test("the floor never outlasts a change it did not see: a check (a failure) reads again, any other job change drops it", async (t) => {
  const { store, job, chunks, finisher, reads, close } = setup(t, 4);
  const [a, b, c, d] = chunks as [string, string, string, string];
  close(a, "done");
  finisher.committed(job.id); // read: 3 open
  close(b, "failed");
  finisher.check(job.id); // the failure path (ClaimService.reportFailure's onChange): read, 2 open
  assert.equal(reads.n, 2);
  // A chunk closed elsewhere, announced without a check (as the control API's job changes are): the floor goes.
  close(c, "cancelled");
  finisher.emit("changed", job.id);
  close(d, "done");
  finisher.committed(job.id);
  assert.equal(reads.n, 3, "the last commit read the counts again");
  assert.equal((await finisher.waitFor(job.id)).state, "failed", "the job ended at its last commit, failed by chunk b");
});

test("a new finisher (a coordinator restart) reads at its first commit", (t) => {
  const { store, job, chunks, reads, close } = setup(t, 3);
  const first = new JobFinisher(store, new JobSpecs(), () => 20_000, testLog());
  close(chunks[0]!, "done");
  first.committed(job.id);
  const restarted = new JobFinisher(store, new JobSpecs(), () => 30_000, testLog());
  close(chunks[1]!, "done");
  restarted.committed(job.id);
  assert.equal(reads.n, 2, "each finisher read once");
  close(chunks[2]!, "done");
  restarted.committed(job.id);
  assert.equal(stateOf(store, job.id), "done");
});
