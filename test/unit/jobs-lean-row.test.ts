import { test } from "node:test";
import assert from "node:assert/strict";
import { insertJob, openTempStore } from "../helpers/store-fixture.ts";

test("a lean job row equals the full row, and reads its spec and steps JSON only when they are read", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { id: "job_lean", stepsJson: `[{"kind":"onnx","id":"up"}]` });
  store.db.prepare(`UPDATE jobs SET spec_json = ? WHERE id = ?`).run(`{"name":"job_lean","big":"${"x".repeat(4096)}"}`, job.id);
  const full = store.jobs.get(job.id);
  const lean = store.jobs.getLean(job.id);
  assert.ok(full && lean);
  // Read nothing from the JSON columns yet: a statement preparing them has not run for this id.
  let reads = 0;
  const prepare = store.db.prepare.bind(store.db);
  store.db.prepare = ((sql: string) => {
    if (/spec_json AS specJson, steps_json AS stepsJson FROM jobs WHERE id/.test(sql) && !/base_dir/.test(sql)) reads++;
    return prepare(sql);
  }) as typeof store.db.prepare;
  t.after(() => {
    store.db.prepare = prepare;
  });
  assert.equal(lean.state, full.state);
  assert.equal(lean.seed, full.seed);
  assert.equal(reads, 0, "no JSON read for the plain columns");
  assert.equal(lean.specJson, full.specJson);
  assert.equal(lean.stepsJson, full.stepsJson);
  assert.equal(reads, 1, "spec and steps read together, once");
  assert.deepEqual({ ...lean }, { ...full });
  assert.equal(store.jobs.getLean("job_none"), undefined);
});

test("a lean job row whose job is gone before its spec is read says so", (t) => {
  const { store } = openTempStore(t);
  insertJob(store, { id: "job_gone" });
  const lean = store.jobs.getLean("job_gone");
  assert.ok(lean);
  store.db.prepare(`DELETE FROM job_chunk_counts WHERE job_id = ?`).run("job_gone");
  store.db.prepare(`DELETE FROM jobs WHERE id = ?`).run("job_gone");
  assert.throws(() => lean.specJson, /job job_gone was removed before its spec was read/);
});

test("the lean listing of open jobs gives the same rows in the same order as the full one", (t) => {
  const { store } = openTempStore(t);
  insertJob(store, { id: "job_low", priority: 0, createdAt: 1_000 });
  insertJob(store, { id: "job_high", priority: 5, createdAt: 2_000, stepsJson: `[{"kind":"onnx","id":"a"}]` });
  insertJob(store, { id: "job_done", state: "done" });
  insertJob(store, { id: "job_old", priority: 0, createdAt: 500 });
  const full = store.jobs.listInStates(["queued", "running", "paused"]);
  const lean = store.jobs.listInStatesLean(["queued", "running", "paused"]);
  assert.deepEqual(lean.map((j) => j.id), ["job_high", "job_old", "job_low"]);
  assert.deepEqual(lean.map((j) => ({ ...j })), full.map((j) => ({ ...j })));
});
