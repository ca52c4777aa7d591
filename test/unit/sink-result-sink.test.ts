import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { STAGING_DIR, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { StagedCommitRetry } from "../../coordinator/sink/staged-commit-retry.ts";
import { JobFinisher } from "../../coordinator/jobs/job-finisher.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import { UPLOAD_IN_PROGRESS, UploadRefusedError } from "../../shared/errors.ts";
import { ACCOUNTING, framePath, randomFrame as frame, setupSink as setup, sha256Hex as sha256, startAttempt } from "../helpers/sink-fixture.ts";
import { insertAgent } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { settle } from "../helpers/eventually.ts";

/** Asserts `fn` refuses with UploadRefusedError of `reason`. */
async function refusal(fn: () => unknown, reason: string): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (err: unknown) => {
      assert.ok(err instanceof UploadRefusedError, `expected UploadRefusedError, got ${String(err)}`);
      assert.equal(err.reason, reason, err.message);
      return true;
    },
  );
}

/** Nothing of the attempt reached the output or the store. */
function assertNothingRecorded(s: ReturnType<typeof setup>): void {
  for (let i = 0; i <= 5; i++) assert.equal(existsSync(framePath(s.job, i)), false, `no final file for frame ${i}`);
  assert.equal(s.store.frames.countByJob(s.job.id), 0, "no frame rows");
  assert.equal(s.store.ledger.listByJob(s.job.id).length, 0, "no ledger row");
  assert.notEqual(s.store.attempts.get(s.header.attemptId)?.state, "committed");
  assert.notEqual(s.store.chunks.get(s.chunk.id)?.state, "done");
  assert.deepEqual(s.committed, []);
}

test("the answer does not wait for the staging dir's removal: it goes after the commit is answered, whatever is left in it", async (t) => {
  const s = setup(t);
  const session = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await session.addFrame(frame(i));
  const staging = stagingDirFor(s.outputRoot, s.header.attemptId);
  // Something the renames do not take away: the dir cannot go in one rmdir, as an emptied one does.
  writeFileSync(join(staging, "stray"), "x");

  assert.equal(await session.commit(ACCOUNTING), 3);
  // Answered: every frame is in place and recorded, while the staging dir is still there.
  for (const i of [0, 1, 2]) assert.ok(existsSync(framePath(s.job, i)), `frame ${i} in place at the answer`);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "committed");
  assert.ok(existsSync(staging), "the staging dir is removed after the answer, not before it");

  await s.sink.drained();
  assert.equal(existsSync(staging), false, "then removed, with what was left in it");
});

test("a full upload commits: exact bytes at framePath, frames + ledger + attempt + chunk in the store, staging removed", async (t) => {
  const s = setup(t);
  const frames = [frame(2), frame(0), frame(1)]; // order of arrival does not matter
  const session = await s.sink.begin(s.header);
  const staging = stagingDirFor(s.outputRoot, s.header.attemptId);
  assert.ok(existsSync(staging), "staging dir exists during the upload");
  for (const f of frames) await session.addFrame(f);
  assert.equal(readdirSync(staging).length, 3, "each frame is staged");
  assert.equal(existsSync(framePath(s.job, 0)), false, "nothing is final before the commit");

  assert.equal(await session.commit(ACCOUNTING), 3);

  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data), `frame ${f.index} bytes`);

  const rows = s.store.frames.listByJob(s.job.id);
  assert.deepEqual(
    rows.map((r) => ({ ...r })),
    [0, 1, 2].map((i) => {
      const f = frames.find((x) => x.index === i)!;
      return {
        jobId: s.job.id, frame: i, chunkId: s.chunk.id, attemptId: "att_live", agentId: s.agent.id,
        modelSha256: s.job.modelSha256, seed: s.job.seed, sha256: f.sha256, bytes: f.size, path: framePath(s.job, i), committedAt: 70_000,
        fileSha256: f.sha256, pixelsSha256: null, // stored as sent, no record in it
      };
    }),
  );
  const ledger = s.store.ledger.listByJob(s.job.id);
  assert.equal(ledger.length, 1);
  assert.deepEqual(
    { ...ledger[0]!, samples: ACCOUNTING.samples },
    { ...ACCOUNTING, jobId: s.job.id, chunkId: s.chunk.id, attemptId: "att_live", agentId: s.agent.id, frames: 3, finishedAt: 70_000 },
  );
  assert.equal(s.store.attempts.get("att_live")?.state, "committed");
  assert.equal(s.store.attempts.get("att_live")?.finishedAt, 70_000);
  const chunk = s.store.chunks.get(s.chunk.id)!;
  assert.equal(chunk.state, "done");
  assert.equal(chunk.currentAttemptId, "att_live");
  assert.deepEqual(s.committed, [], "the work a commit sets off runs after the answer, not before");
  await settle();
  assert.deepEqual(s.committed, [s.job.id]);
  assert.equal(s.store.chunks.get(s.chunks[1]!.id)?.state, "pending", "the other chunk is untouched");
  await s.sink.drained(); // the emptied staging dir goes after the answer
  assert.equal(existsSync(staging), false, "staging dir removed");
  assert.deepEqual(readdirSync(join(s.outputRoot, STAGING_DIR)), [], "no other staging left behind");

  // The attempt is spent: a second upload of it is refused.
  await refusal(() => s.sink.begin(s.header), "stale-attempt");
});

test("an attempt's upload sent again while its broken one is still held here is refused (upload-in-progress) and leaves that one's frames; once it is aborted, the new one commits", async (t) => {
  const s = setup(t);
  const frames = [frame(0), frame(1), frame(2)];
  const broken = await s.sink.begin(s.header);
  await broken.addFrame(frames[0]!);
  await refusal(() => s.sink.begin(s.header), UPLOAD_IN_PROGRESS);
  assert.equal(readdirSync(stagingDirFor(s.outputRoot, s.header.attemptId)).length, 1, "the held upload's staged frame is left alone");
  await broken.abort();
  const again = await s.sink.begin(s.header);
  for (const f of frames) await again.addFrame(f);
  assert.equal(await again.commit(ACCOUNTING), 3);
  // Committed: the attempt is no longer live, and a later send is refused as stale, not held.
  await refusal(() => s.sink.begin(s.header), "stale-attempt");
});

test("a frame with the wrong sha256 is refused (bad-checksum)", async (t) => {
  const s = setup(t);
  const session = await s.sink.begin(s.header);
  const f = frame(0);
  await refusal(() => session.addFrame({ ...f, sha256: sha256(randomBytes(8)) }), "bad-checksum");
  // One flipped bit, announced digest of the original.
  const flipped = Buffer.from(f.data);
  flipped[100]! ^= 0x01;
  await refusal(() => session.addFrame({ ...f, data: flipped }), "bad-checksum");
  await session.abort();
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false, "abort removes the staging dir");
  assertNothingRecorded(s);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "running", "a refusal does not decide the attempt");
});

test("a staged frame whose file cannot be made fails the upload, at a later frame or at the latest at the commit; nothing is recorded", async (t) => {
  const s = setup(t);
  const session = await s.sink.begin(s.header);
  // With the staging dir gone no frame file can be made: wherever that fails (in line, or on the thread pool
  // after addFrame has returned), the upload must fail with that error and record nothing.
  rmSync(stagingDirFor(s.outputRoot, s.header.attemptId), { recursive: true });
  const steps = [...[0, 1, 2].map((i) => () => session.addFrame(frame(i))), () => session.commit(ACCOUNTING)];
  let failure: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      failure = err;
      break;
    }
  }
  assert.equal((failure as NodeJS.ErrnoException | undefined)?.code, "ENOENT", `the upload fails with the file's own error, not ${String(failure)}`);
  await session.abort();
  assertNothingRecorded(s);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "running");
});

test("a size mismatch, an empty frame and an oversized frame are refused (bad-size)", async (t) => {
  const s = setup(t, { maxFrameBytes: 4096 });
  const session = await s.sink.begin(s.header);
  const f = frame(0);
  await refusal(() => session.addFrame({ ...f, size: f.size + 1 }), "bad-size");
  const truncated = f.data.subarray(0, 1000);
  await refusal(() => session.addFrame({ ...f, data: truncated, sha256: sha256(truncated) }), "bad-size");
  const empty = new Uint8Array(0);
  await refusal(() => session.addFrame({ index: 0, data: empty, sha256: sha256(empty), size: 0, format: "png" }), "bad-size");
  await refusal(() => session.addFrame(frame(0, 4097)), "bad-size");
  await session.addFrame(frame(0, 4096)); // exactly the limit is fine
  await session.abort();
  assertNothingRecorded(s);
});

test("a frame outside the chunk is refused (frame-out-of-range)", async (t) => {
  const s = setup(t);
  const session = await s.sink.begin(s.header);
  await refusal(() => session.addFrame(frame(3)), "frame-out-of-range");
  await refusal(() => session.addFrame(frame(-1)), "frame-out-of-range");
  await session.abort();
  assertNothingRecorded(s);
});

test("a frame sent twice is refused (duplicate-frame)", async (t) => {
  const s = setup(t);
  const session = await s.sink.begin(s.header);
  await session.addFrame(frame(1));
  await refusal(() => session.addFrame(frame(1)), "duplicate-frame");
  await session.abort();
  assertNothingRecorded(s);
});

test("an upload that ends with frames missing is refused at commit (missing-frames)", async (t) => {
  const s = setup(t);
  const session = await s.sink.begin(s.header);
  await session.addFrame(frame(0));
  await session.addFrame(frame(2));
  await refusal(() => session.commit(ACCOUNTING), "missing-frames");
  assertNothingRecorded(s);
  await session.abort();
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false);
});

test("a header by another agent, for another chunk, with a wrong frame count or an unknown attempt is refused", async (t) => {
  const s = setup(t);
  const other = insertAgent(s.store, { id: "agt_other" });
  await refusal(() => s.sink.begin({ ...s.header, agentId: other.id }), "wrong-agent");
  await refusal(() => s.sink.begin({ ...s.header, chunkId: s.chunks[1]!.id }), "bad-header");
  await refusal(() => s.sink.begin({ ...s.header, frameCount: 4 }), "bad-header");
  await refusal(() => s.sink.begin({ ...s.header, attemptId: "att_unknown" }), "unknown-attempt");
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false, "a refused header stages nothing");
  assertNothingRecorded(s);
});

test("an attempt lost while uploading is refused at commit (stale-attempt)", async (t) => {
  const s = setup(t);
  const claims = new ClaimService(s.store, DEFAULT_FARM_POLICY, () => assert.fail("no claims here"), s.clock.now, testLog(), () => undefined);
  const session = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await session.addFrame(frame(i));
  assert.equal(claims.loseAgentAttempts(s.agent.id, "heartbeat timeout"), 1);
  await refusal(() => session.commit(ACCOUNTING), "stale-attempt");
  assertNothingRecorded(s);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "lost");
  assert.equal(s.store.chunks.get(s.chunk.id)?.state, "pending");
  await session.abort();
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false);
});

test("an attempt superseded by a newer one is refused at commit, and the newer one commits", async (t) => {
  const s = setup(t);
  const old = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await old.addFrame(frame(i));
  // The coordinator gives the chunk to another attempt (e.g. after a timeout).
  s.store.attempts.finish(s.header.attemptId, "superseded", 71_000);
  s.store.chunks.transition(s.chunk.id, "pending", 71_000, { currentAttemptId: null, dispatchId: null });
  const other = insertAgent(s.store, { id: "agt_new" });
  startAttempt(s.store, s.chunk.id, other.id, "att_new");

  await refusal(() => old.commit(ACCOUNTING), "stale-attempt");
  assertNothingRecorded(s);
  await old.abort();

  const fresh = await s.sink.begin({ ...s.header, attemptId: "att_new", agentId: other.id });
  const frames = [frame(0), frame(1), frame(2)];
  for (const f of frames) await fresh.addFrame(f);
  assert.equal(await fresh.commit(ACCOUNTING), 3);
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data));
  assert.deepEqual(s.store.frames.listByJob(s.job.id).map((r) => r.attemptId), ["att_new", "att_new", "att_new"]);
});

test("after a commit's renames fail, the staged frames survive the handler's abort for reconcileStaging", async (t) => {
  const s = setup(t);
  const session = await s.sink.begin(s.header);
  const frames = [frame(0), frame(1), frame(2)];
  for (const f of frames) await session.addFrame(f);
  // A directory squats on frame 1's final path: its rename fails after the store commit.
  mkdirSync(framePath(s.job, 1), { recursive: true });
  await assert.rejects(() => session.commit(ACCOUNTING), /EISDIR|EEXIST|ENOTEMPTY|directory/i);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "committed", "the store commit stands");
  // What the gRPC handler does with any error: abort the session.
  await session.abort();
  const staging = stagingDirFor(s.outputRoot, s.header.attemptId);
  assert.ok(existsSync(staging), "staged frames of a committed attempt must not be deleted");
  assert.deepEqual(readdirSync(staging).sort(), ["000000001.frame", "000000002.frame"]);
});

test("a committed attempt whose renames failed is moved into place by the retry once the obstacle is gone, without a restart", async (t) => {
  const s = setup(t);
  const retry = new StagedCommitRetry(s.outputRoot, s.store, testLog(), 60_000);
  t.after(() => retry.stop());
  s.sink.onMoveFailed = (attemptId) => retry.add(attemptId);
  const session = await s.sink.begin(s.header);
  const frames = [frame(0), frame(1), frame(2)];
  for (const f of frames) await session.addFrame(f);
  mkdirSync(framePath(s.job, 1), { recursive: true });
  await assert.rejects(() => session.commit(ACCOUNTING));
  await session.abort();
  assert.equal(retry.pending, 1, "the attempt waits for its frames to be moved");

  assert.equal(retry.tryNow(), 1, "still blocked: nothing moves, nothing is lost");
  assert.deepEqual(readdirSync(stagingDirFor(s.outputRoot, s.header.attemptId)).sort(), ["000000001.frame", "000000002.frame"]);

  rmSync(framePath(s.job, 1), { recursive: true });
  assert.equal(retry.tryNow(), 0);
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data), `frame ${f.index} in place`);
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false, "staging dir removed");
  for (const row of s.store.frames.listByJob(s.job.id)) assert.ok(existsSync(row.path), `${row.path} exists`);
});

test("a job is not done while a committed chunk's frames wait in staging; it finishes once the retry moves them", async (t) => {
  const s = setup(t);
  s.store.db.prepare(`UPDATE jobs SET spec_json = ? WHERE id = ?`).run(JSON.stringify({ steps: [] }), s.job.id);
  const retry = new StagedCommitRetry(s.outputRoot, s.store, testLog(), 60_000);
  t.after(() => retry.stop());
  const finisher = new JobFinisher(s.store, new JobSpecs(), s.clock.now, testLog());
  // The coordinator's wiring (coordinator/coordinator.ts).
  s.sink.onMoveFailed = (attemptId) => retry.add(attemptId);
  finisher.holdsFrames = (jobId) => retry.holds(jobId);
  retry.onMoved = (jobId) => finisher.check(jobId);

  const first = await s.sink.begin(s.header);
  for (const i of [0, 1, 2]) await first.addFrame(frame(i));
  mkdirSync(framePath(s.job, 1), { recursive: true });
  await assert.rejects(() => first.commit(ACCOUNTING));
  await first.abort();

  const second = s.chunks[1]!;
  startAttempt(s.store, second.id, s.agent.id, "att_second");
  const session = await s.sink.begin({ ...s.header, chunkId: second.id, attemptId: "att_second" });
  for (const i of [3, 4, 5]) await session.addFrame(frame(i));
  await session.commit(ACCOUNTING);
  finisher.check(s.job.id); // what onCommitted does
  assert.equal(s.store.chunks.counts(s.job.id).open, 0, "every chunk is committed in the store");
  assert.notEqual(s.store.jobs.get(s.job.id)?.state, "done", "not done: frames 1 and 2 are still in staging");

  rmSync(framePath(s.job, 1), { recursive: true });
  assert.equal(retry.tryNow(), 0);
  assert.equal(s.store.jobs.get(s.job.id)?.state, "done", "done once every frame is in place");
  for (let i = 0; i <= 5; i++) assert.ok(existsSync(framePath(s.job, i)), `frame ${i} in place`);
});

test("each stale-attempt check refuses on its own: the attempt's state, the chunk's state, the chunk's pointer", async (t) => {
  // Each case breaks exactly one of the facts checkCurrent relies on and leaves the others true.
  const cases: Array<[string, (s: ReturnType<typeof setup>) => void]> = [
    ["attempt no longer running, chunk still points at it", (s) => {
      s.store.db.prepare(`UPDATE attempts SET state = 'lost' WHERE id = ?`).run(s.header.attemptId);
    }],
    ["chunk no longer running, attempt still running and pointed at", (s) => {
      s.store.db.prepare(`UPDATE chunks SET state = 'pending' WHERE id = ?`).run(s.chunk.id);
    }],
    ["chunk points at another attempt, this one still running", (s) => {
      s.store.attempts.insert({ id: "att_newer", chunkId: s.chunk.id, jobId: s.job.id, agentId: s.agent.id, createdAt: 1_600 });
      s.store.db.prepare(`UPDATE chunks SET current_attempt_id = 'att_newer' WHERE id = ?`).run(s.chunk.id);
    }],
  ];
  for (const [what, breakIt] of cases) {
    await t.test(what, async (tt) => {
      const s = setup(tt);
      const session = await s.sink.begin(s.header);
      for (const i of [0, 1, 2]) await session.addFrame(frame(i));
      breakIt(s);
      await refusal(() => s.sink.begin(s.header), "stale-attempt");
      await refusal(() => session.commit(ACCOUNTING), "stale-attempt");
      assertNothingRecorded(s);
      await session.abort();
    });
  }
});
