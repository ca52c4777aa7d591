import assert from "node:assert/strict";
import { test } from "node:test";
import { ACCOUNTING, framePath, randomFrame, setupSink } from "../helpers/sink-fixture.ts";

test("a commit reads no jobs row: the frame paths, model and seed come from the job's kept facts", async (t) => {
  const s = setupSink(t); // its setup read the job once, so its facts are kept
  const jobReads: string[] = [];
  const prepare = s.store.db.prepare;
  s.store.db.prepare = ((sql: string) => {
    if (/\bFROM jobs\b/.test(sql)) jobReads.push(sql.replace(/\s+/g, " ").slice(0, 80));
    return prepare.call(s.store.db, sql);
  }) as typeof prepare;
  t.after(() => void (s.store.db.prepare = prepare));
  const session = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await session.addFrame(randomFrame(i));
  await session.commit(ACCOUNTING);
  assert.deepEqual(jobReads, [], "no statement on the jobs table in the upload or its commit");
  const rows = s.store.frames.listByJob(s.job.id);
  assert.deepEqual(rows.map((r) => r.path), [0, 1, 2].map((i) => framePath(s.job, i)));
  assert.ok(rows.every((r) => r.modelSha256 === s.job.modelSha256 && r.seed === s.job.seed));
  assert.equal(s.store.chunks.get(s.chunk.id)?.state, "done");
});
