import assert from "node:assert/strict";
import fs, { existsSync, readFileSync, rmSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { test, type TestContext } from "node:test";
import { stagingDirFor } from "../../coordinator/sink/staging.ts";
import { STAGING_THREAD_MIN_CORES } from "../../coordinator/sink/staging-writer.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import { ACCOUNTING, framePath, randomFrame as frame, setupSink } from "../helpers/sink-fixture.ts";

/** The sink of setupSink with its staging thread running (closed after the test). */
async function threaded(t: TestContext) {
  const s = setupSink(t, { maxFrameBytes: 1 << 20 });
  assert.equal(await s.sink.startThread(STAGING_THREAD_MIN_CORES), true, "the staging thread starts");
  t.after(() => s.sink.close());
  return s;
}

/** Counts the calls of `name` on node:fs made by this (the main) thread until the test ends. */
function countCalls(t: TestContext, name: "openSync" | "fsync" | "writeSync"): { paths: unknown[] } {
  const seen = { paths: [] as unknown[] };
  const original = fs[name] as (...a: unknown[]) => unknown;
  t.mock.method(fs, name, function (this: unknown, ...a: unknown[]) {
    seen.paths.push(a[0]);
    return original.apply(this, a);
  });
  // ESM named imports of node:fs see the mock too.
  syncBuiltinESMExports();
  t.after(() => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  });
  return seen;
}

test("with the staging thread running, an upload commits as in line: exact bytes in place, rows recorded, staging removed", async (t) => {
  const s = await threaded(t);
  const frames = [frame(1), frame(0), frame(2, 300_000)];
  const session = await s.sink.begin(s.header);
  for (const f of frames) await session.addFrame(f);
  assert.equal(await session.commit(ACCOUNTING), 3);
  // Answered: in place under the final name, recorded.
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data), `frame ${f.index} bytes`);
  assert.equal(s.store.frames.countByJob(s.job.id), 3);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "committed");
  await s.sink.drained();
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false, "the emptied staging dir is removed (by the thread)");
});

test("with the staging thread running, the main thread opens, writes and fsyncs no staged file and syncs no directory", async (t) => {
  const s = await threaded(t);
  const opens = countCalls(t, "openSync");
  const writes = countCalls(t, "writeSync");
  const syncs = countCalls(t, "fsync");
  const session = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await session.addFrame(frame(i));
  assert.equal(await session.commit(ACCOUNTING), 3);
  await s.sink.drained();
  assert.deepEqual(opens.paths, [], "no open on the main thread (staged files, staging dir, target dir)");
  assert.deepEqual(writes.paths, [], "no staged write on the main thread");
  assert.deepEqual(syncs.paths, [], "no fsync trip from the main thread");
  assert.ok(existsSync(framePath(s.job, 2)), "and the frames are in place");
});

test("with the staging thread running, a staged frame that cannot be made fails the upload with its own error; nothing is recorded", async (t) => {
  const s = await threaded(t);
  const session = await s.sink.begin(s.header);
  rmSync(stagingDirFor(s.outputRoot, s.header.attemptId), { recursive: true });
  // The thread's open fails after addFrame has returned: the commit's flush must fail with that error.
  for (const i of [0, 1, 2]) await session.addFrame(frame(i));
  await assert.rejects(session.commit(ACCOUNTING), (err: NodeJS.ErrnoException) => err.code === "ENOENT");
  await session.abort();
  assert.equal(s.store.frames.countByJob(s.job.id), 0, "no frame rows");
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "running");
  for (const i of [0, 1, 2]) assert.equal(existsSync(framePath(s.job, i)), false);
});

test("a closed staging writer hands the work back to the main thread: later uploads commit in line", async (t) => {
  const s = await threaded(t);
  await s.sink.staging.close();
  assert.equal(s.sink.staging.threaded, false);
  const session = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await session.addFrame(frame(i));
  assert.equal(await session.commit(ACCOUNTING), 3);
  assert.ok(existsSync(framePath(s.job, 0)));
});

test("with the staging thread running, a frame whose bytes do not match its sha256 is hashed there and refused (bad-checksum) before anything is recorded", async (t) => {
  const s = await threaded(t);
  const session = await s.sink.begin(s.header);
  const bad = { ...frame(1), sha256: "0".repeat(64) };
  let failure: unknown;
  for (const step of [() => session.addFrame(frame(0)), () => session.addFrame(bad), () => session.addFrame(frame(2)), () => session.commit(ACCOUNTING)]) {
    try {
      await step();
    } catch (err) {
      failure = err;
      break;
    }
  }
  assert.ok(failure instanceof UploadRefusedError, `refused, not ${String(failure)}`);
  assert.equal(failure.reason, "bad-checksum");
  await session.abort();
  assert.equal(s.store.frames.countByJob(s.job.id), 0, "no frame rows");
  assert.equal(existsSync(framePath(s.job, 1)), false);
});

test("the staging dir's fsync goes with the upload's last frame: one request for both, none of its own at the flush", async (t) => {
  for (const thread of [true, false]) {
    const s = thread ? await threaded(t) : setupSink(t);
    const dirSyncs = t.mock.method(s.sink.staging, "syncDir");
    const writes = t.mock.method(s.sink.staging, "writeFile");
    const session = await s.sink.begin(s.header);
    for (const i of [2, 0, 1]) await session.addFrame(frame(i));
    assert.deepEqual(
      writes.mock.calls.map((c) => c.arguments[3]),
      [undefined, undefined, stagingDirFor(s.outputRoot, s.header.attemptId)],
      `thread ${thread}: the last frame's request names the staging dir`,
    );
    assert.equal(await session.commit(ACCOUNTING), 3);
    const synced = dirSyncs.mock.calls.map((c) => c.arguments[0]);
    assert.ok(synced.includes(s.job.outputDir), `thread ${thread}: the target dir is fsynced after the renames`);
    assert.ok(!synced.includes(stagingDirFor(s.outputRoot, s.header.attemptId)), `thread ${thread}: the staging dir has no fsync of its own at the flush`);
  }
});

test("on a machine of fewer than STAGING_THREAD_MIN_CORES cores the staging thread is not started: the work stays in line", async (t) => {
  const s = setupSink(t);
  t.after(() => s.sink.close());
  assert.equal(await s.sink.startThread(STAGING_THREAD_MIN_CORES - 1), false);
  assert.equal(s.sink.staging.threaded, false);
});
