import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { reconcileStaging } from "../../coordinator/sink/reconcile-staging.ts";
import { STAGING_DIR, stagedFrameName, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { ACCOUNTING, framePath, randomFrame, setupSink, startAttempt } from "../helpers/sink-fixture.ts";
import { insertAgent } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

test("with no staging dir there is nothing to do", (t) => {
  const s = setupSink(t);
  assert.deepEqual(reconcileStaging(s.outputRoot, s.store, testLog()), { completed: 0, discarded: 0, stuck: [] });
});

test("a committed attempt whose renames were interrupted is completed at start-up", async (t) => {
  const s = setupSink(t);
  const frames = [randomFrame(0), randomFrame(1), randomFrame(2)];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  // Frame 1's final path is blocked: the store commit happens, frame 0 is renamed, then the renames stop.
  mkdirSync(framePath(s.job, 1), { recursive: true });
  await assert.rejects(() => session.commit(ACCOUNTING));
  await session.abort(); // what the gRPC handler does after any error
  assert.equal(s.store.chunks.get(s.chunk.id)?.state, "done");
  assert.deepEqual(readFileSync(framePath(s.job, 0)), Buffer.from(frames[0]!.data), "frame 0 was renamed before the failure");
  assert.equal(existsSync(framePath(s.job, 2)), false);

  // The obstacle goes away (an operator, a restart); reconcile finishes the job.
  rmSync(framePath(s.job, 1), { recursive: true });
  assert.deepEqual(reconcileStaging(s.outputRoot, s.store, testLog()), { completed: 2, discarded: 0, stuck: [] });
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data), `frame ${f.index} in place`);
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false, "staging dir removed");
  // Store rows and files agree.
  for (const row of s.store.frames.listByJob(s.job.id)) assert.ok(existsSync(row.path), `${row.path} exists`);
});

test("a crash after the store commit and before any rename is completed from the staged files", async (t) => {
  const s = setupSink(t);
  const frames = [randomFrame(0), randomFrame(1), randomFrame(2)];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  // The job's output dir path is taken by a file: the very first mkdir fails, so no rename happens.
  mkdirSync(s.outputRoot, { recursive: true });
  writeFileSync(s.job.outputDir, "in the way");
  await assert.rejects(() => session.commit(ACCOUNTING));
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "committed");
  assert.deepEqual(readdirSync(stagingDirFor(s.outputRoot, s.header.attemptId)).sort(), [0, 1, 2].map(stagedFrameName));

  rmSync(s.job.outputDir);
  assert.deepEqual(reconcileStaging(s.outputRoot, s.store, testLog()), { completed: 3, discarded: 0, stuck: [] });
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data));
});

test("staging dirs of uncommitted or unknown attempts are deleted and nothing is recorded", async (t) => {
  const s = setupSink(t);
  // An upload that was cut off by a crash: frames staged, never committed.
  const session = await s.sink.begin(s.header);
  await session.addFrame(randomFrame(0));
  await session.addFrame(randomFrame(1));
  // A second live attempt on the other chunk, staged completely but not committed.
  const other = insertAgent(s.store, { id: "agt_b" });
  startAttempt(s.store, s.chunks[1]!.id, other.id, "att_b");
  const s2 = await s.sink.begin({ jobId: s.job.id, chunkId: s.chunks[1]!.id, attemptId: "att_b", agentId: other.id, frameCount: 3 });
  for (const i of [3, 4, 5]) await s2.addFrame(randomFrame(i));
  // Leftovers of an attempt the store never heard of.
  const stray = stagingDirFor(s.outputRoot, "att_stray");
  mkdirSync(stray, { recursive: true });
  writeFileSync(join(stray, stagedFrameName(0)), "junk");

  assert.deepEqual(reconcileStaging(s.outputRoot, s.store, testLog()), { completed: 0, discarded: 3, stuck: [] });
  assert.deepEqual(readdirSync(join(s.outputRoot, STAGING_DIR)), []);
  for (let i = 0; i <= 5; i++) assert.equal(existsSync(framePath(s.job, i)), false);
  assert.equal(s.store.frames.countByJob(s.job.id), 0);
  assert.equal(s.store.attempts.get("att_live")?.state, "running", "reconcile does not decide attempts");
  assert.equal(s.store.chunks.get(s.chunk.id)?.state, "running");
});

test("a committed attempt whose moves still fail at start-up stays staged and is reported as stuck, not a failed start", async (t) => {
  const s = setupSink(t);
  const frames = [randomFrame(0), randomFrame(1), randomFrame(2)];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  mkdirSync(s.outputRoot, { recursive: true });
  writeFileSync(s.job.outputDir, "in the way");
  await assert.rejects(() => session.commit(ACCOUNTING));

  // Still in the way at start-up: nothing moves, nothing is deleted.
  assert.deepEqual(reconcileStaging(s.outputRoot, s.store, testLog()), { completed: 0, discarded: 0, stuck: [s.header.attemptId] });
  assert.deepEqual(readdirSync(stagingDirFor(s.outputRoot, s.header.attemptId)).sort(), [0, 1, 2].map(stagedFrameName));

  rmSync(s.job.outputDir);
  assert.deepEqual(reconcileStaging(s.outputRoot, s.store, testLog()), { completed: 3, discarded: 0, stuck: [] });
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data));
});
