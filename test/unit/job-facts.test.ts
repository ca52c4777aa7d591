import { test } from "node:test";
import assert from "node:assert/strict";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { Store } from "../../coordinator/store/store.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertJob, openTempStore, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

/** The job row as a full read of the file gives it (list() reads every column, nothing kept). */
function fullRow(store: Store, id: string): JobRow | undefined {
  return store.jobs.list().find((j) => j.id === id);
}

function assertFresh(store: Store, id: string, step: string): JobRow {
  const got = store.jobs.get(id);
  assert.deepEqual(got, fullRow(store, id), `get() equals a full read after ${step}`);
  assert.deepEqual(Object.keys(got ?? {}), Object.keys(fullRow(store, id) ?? {}), `same column order after ${step}`);
  return got as JobRow;
}

test("a job row read through the kept facts equals a full read after every change, whoever writes it", (t) => {
  const { store, dbPath } = openTempStore(t);
  const job = insertJob(store, { state: "queued" });
  assertFresh(store, job.id, "insert");
  store.jobs.transition(job.id, "running", 2_000);
  assertFresh(store, job.id, "running");
  store.jobs.setPriority(job.id, 7);
  store.jobs.setMessage(job.id, "held by its window");
  store.jobs.setPauseReason(job.id, "request");
  store.jobs.transition(job.id, "paused", 3_000);
  assertFresh(store, job.id, "priority, message, pause");
  // Columns no code changes after submit, edited by hand on this connection: never the kept value.
  store.db.prepare(`UPDATE jobs SET spec_json = ?, output_dir = ?, steps_json = ? WHERE id = ?`).run('{"edited":true}', "/elsewhere", '[{"x":1}]', job.id);
  const edited = assertFresh(store, job.id, "a hand edit of the spec, output dir and steps");
  assert.equal(edited.specJson, '{"edited":true}');
  assert.equal(edited.outputDir, "/elsewhere");
  // Another connection (the CLI) changes the state: the next read sees it.
  const other = Store.open(dbPath);
  try {
    other.jobs.transition(job.id, "cancelled", 4_000, "cancelled by the CLI");
  } finally {
    other.close();
  }
  assert.equal(assertFresh(store, job.id, "another connection's cancel").state, "cancelled");
  store.jobs.setVideo(job.id, "/v.mp4", null);
  assertFresh(store, job.id, "video");
  assert.equal(store.jobs.get("no-such-job"), undefined);
});

test("the jobs listed in some states equal a full read, in priority then age order, after their rows change", (t) => {
  const { store } = openTempStore(t);
  const jobs = [0, 1, 2, 3].map((i) => insertJob(store, { state: "queued", createdAt: 1_000 + i, priority: i % 2 }));
  const full = (): JobRow[] =>
    store.jobs
      .list()
      .filter((j) => j.state === "queued" || j.state === "running")
      .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt);
  assert.deepEqual(store.jobs.listInStates(["queued", "running"]), full());
  store.jobs.transition(jobs[0]!.id, "running", 2_000);
  store.jobs.setPriority(jobs[2]!.id, 5);
  store.jobs.transition(jobs[3]!.id, "cancelled", 2_000);
  store.db.prepare(`UPDATE jobs SET steps_json = '[{"edited":1}]' WHERE id = ?`).run(jobs[1]!.id);
  const listed = store.jobs.listInStates(["queued", "running"]);
  assert.deepEqual(listed, full());
  assert.deepEqual(listed.map((j) => j.id), [jobs[2]!.id, jobs[1]!.id, jobs[0]!.id]);
  assert.equal(listed[1]?.stepsJson, '[{"edited":1}]');
});

test("facts read inside a transaction that rolls back are not kept: the next read is the file's", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { state: "running" });
  assert.throws(() =>
    store.tx(() => {
      store.db.prepare(`UPDATE jobs SET spec_json = '{"rolled":"back"}', seed = 99 WHERE id = ?`).run(job.id);
      assert.equal(store.jobs.get(job.id)?.seed, 99, "inside: the transaction's own value");
      throw new Error("undo");
    }),
  );
  const after = assertFresh(store, job.id, "the rolled-back edit");
  assert.equal(after.seed, job.seed);
  assert.equal(after.specJson, job.specJson);
  // A savepoint undone alone inside a transaction that commits.
  store.tx(() => {
    assert.throws(() =>
      store.tx(() => {
        store.db.prepare(`UPDATE jobs SET output_dir = '/undone' WHERE id = ?`).run(job.id);
        store.jobs.get(job.id);
        throw new Error("undo the savepoint");
      }),
    );
    assert.equal(store.jobs.get(job.id)?.outputDir, job.outputDir);
  });
  assertFresh(store, job.id, "the undone savepoint");
  // An insert rolled back, then the same id inserted again with other facts.
  const id = "job_rolled_back";
  assert.throws(() =>
    store.tx(() => {
      insertJob(store, { id, seed: 1, outputDir: "/first" });
      throw new Error("undo the insert");
    }),
  );
  assert.equal(store.jobs.get(id), undefined);
  insertJob(store, { id, seed: 2, outputDir: "/second" });
  const again = assertFresh(store, id, "the insert again");
  assert.equal(again.outputDir, "/second");
  assert.equal(again.seed, 2);
});

test("a job cancelled or paused between two claims is seen by the second claim", (t) => {
  const farm = seedFarm(t, { chunks: [[0, 1], [2, 3], [4, 5]] });
  const clock = manualClock(50_000);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, (job) => ({ input: null, steps: [{ id: "grade", kind: "model", model: job.modelName, modelSha256: job.modelSha256, window: null }] }), clock.now, testLog(), () => undefined);
  const [c0, c1, c2] = farm.chunks.map((c) => c.id) as [string, string, string];
  const first = claims.claim(farm.agent.id, c0, queueChunk(farm.store, c0));
  assert.equal(first.skip, false, "the first claim runs (and reads the job)");
  farm.store.jobs.transition(farm.job.id, "paused", clock.now());
  const paused = claims.claim(farm.agent.id, c1, queueChunk(farm.store, c1));
  assert.deepEqual(paused, { skip: true, reason: "job is paused" });
  assert.equal(farm.store.chunks.get(c1)?.state, "pending");
  farm.store.jobs.transition(farm.job.id, "cancelled", clock.now());
  const cancelled = claims.claim(farm.agent.id, c2, queueChunk(farm.store, c2));
  assert.deepEqual(cancelled, { skip: true, reason: "job is cancelled" });
  assert.equal(farm.store.chunks.get(c2)?.state, "cancelled");
});
