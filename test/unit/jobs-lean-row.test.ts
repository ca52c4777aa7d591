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
