import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { GroupCommit } from "../../coordinator/sink/group-commit.ts";
import { stagingDirFor } from "../../coordinator/sink/staging.ts";
import type { IncomingFrame, StagedFrame, UploadHeader } from "../../coordinator/sink/result-sink.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import { ACCOUNTING, framePath, randomFrame, setupSink, startAttempt } from "../helpers/sink-fixture.ts";

/** A promise with its resolve handle, to hold a batch open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

test("group commit: the first commit starts at once; those submitted meanwhile go together into the next batch, each with its own outcome", async () => {
  const batches: number[][] = [];
  const gates = [gate(), gate()];
  const group = new GroupCommit<number, string>(async (items) => {
    batches.push([...items]);
    await gates[batches.length - 1]?.promise;
    return items.map((i) => (i === 3 ? { status: "rejected" as const, reason: new Error("three refused") } : { status: "fulfilled" as const, value: `ok ${i}` }));
  });
  const answered: string[] = [];
  const first = group.submit(1).then((v) => answered.push(v));
  assert.deepEqual(batches, [[1]], "a quiet group starts the first batch before submit returns");
  const second = group.submit(2).then((v) => answered.push(v));
  const third = group.submit(3);
  const fourth = group.submit(4).then((v) => answered.push(v));
  assert.equal(group.waiting, 3);
  gates[0]!.open();
  await first;
  assert.deepEqual(answered, ["ok 1"], "the waiting commits are answered only after their own batch");
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
  gates[1]!.open();
  await Promise.all([second, fourth]);
  await assert.rejects(third, /three refused/);
  assert.deepEqual(answered, ["ok 1", "ok 2", "ok 4"]);
});

test("group commit: a batch that throws fails each of its commits, and the next batch still runs", async () => {
  let n = 0;
  const hold = gate();
  const group = new GroupCommit<number, number>(async (items) => {
    n++;
    if (n === 1) {
      await hold.promise;
      throw new Error("disk gone");
    }
    return items.map((i) => ({ status: "fulfilled" as const, value: i }));
  });
  const a = group.submit(1);
  const b = group.submit(2);
  hold.open();
  await assert.rejects(a, /disk gone/);
  assert.equal(await b, 2);
});

/** Three live attempts on chunks 0-1, 2-3, 4-5, each with its frames staged (not yet committed). */
async function threeStagedUploads(t: Parameters<typeof setupSink>[0]) {
  const s = setupSink(t, { chunks: [[0, 1], [2, 3], [4, 5]] });
  startAttempt(s.store, s.chunks[1]!.id, s.agent.id, "att_b");
  startAttempt(s.store, s.chunks[2]!.id, s.agent.id, "att_c");
  const uploads: Array<{ header: UploadHeader; dir: string; frames: Map<number, StagedFrame>; data: IncomingFrame[] }> = [];
  for (const [i, attemptId] of ["att_live", "att_b", "att_c"].entries()) {
    const chunk = s.chunks[i]!;
    const header: UploadHeader = { jobId: s.job.id, chunkId: chunk.id, attemptId, agentId: s.agent.id, frameCount: 2 };
    const session = await s.sink.begin(header);
    const data = [randomFrame(chunk.frameStart), randomFrame(chunk.frameEnd)];
    for (const f of data) await session.addFrame(f);
    const frames = new Map(data.map((f) => [f.index, { sha256: f.sha256, bytes: f.size }]));
    uploads.push({ header, dir: stagingDirFor(s.outputRoot, attemptId), frames, data });
  }
  // Every outer transaction, with the chunks it made done.
  const txs: string[][] = [];
  const tx = s.store.tx.bind(s.store);
  let depth = 0;
  s.store.tx = <T>(fn: () => T): T => {
    if (depth > 0) return tx(fn);
    depth++;
    try {
      return tx(fn);
    } finally {
      depth--;
      txs.push(s.chunks.filter((c) => s.store.chunks.get(c.id)?.state === "done").map((c) => c.id));
    }
  };
  return { s, uploads, txs };
}

test("sink: two commits that arrive while another is in progress go into one transaction, and each is answered only after it, with its frames in place", async (t) => {
  const { s, uploads, txs } = await threeStagedUploads(t);
  const [a, b, c] = uploads as [(typeof uploads)[0], (typeof uploads)[0], (typeof uploads)[0]];
  const answered: string[] = [];
  const commit = (u: typeof a) =>
    s.sink.commit(u.header, u.dir, u.frames, ACCOUNTING).then((n) => {
      // At its answer, every frame of this commit is under its final name and the store says committed.
      for (const f of u.data) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data));
      assert.equal(s.store.attempts.get(u.header.attemptId)?.state, "committed");
      answered.push(u.header.attemptId);
      return n;
    });
  const pa = commit(a);
  // A's transaction ran before commit() returned; its dir fsyncs are still under way, so B and C wait.
  assert.deepEqual(txs, [[s.chunks[0]!.id]]);
  const pb = commit(b);
  const pc = commit(c);
  assert.deepEqual(answered, []);
  assert.deepEqual(await Promise.all([pa, pb, pc]), [2, 2, 2]);
  assert.equal(txs.length, 2, "two transactions for three commits");
  assert.deepEqual(txs[1], s.chunks.map((ch) => ch.id), "B and C were made done by the same transaction");
  assert.deepEqual(answered, ["att_live", "att_b", "att_c"]);
  assert.equal(s.store.frames.countByJob(s.job.id), 6);
  assert.equal(s.store.ledger.listByJob(s.job.id).length, 3);
  await s.sink.drained();
  for (const u of uploads) assert.equal(existsSync(u.dir), false, "staging dir removed after the answers");
});

test("sink: a commit refused inside a shared transaction rolls back alone; the other commits, and the refused one's staged frames are kept", async (t) => {
  const { s, uploads, txs } = await threeStagedUploads(t);
  const [a, b, c] = uploads as [(typeof uploads)[0], (typeof uploads)[0], (typeof uploads)[0]];
  const pa = s.sink.commit(a.header, a.dir, a.frames, ACCOUNTING);
  // B lacks its last frame: its first frame's row is written, then the check refuses, inside the shared transaction.
  const bFrames = new Map([...b.frames].slice(0, 1));
  const pb = s.sink.commit(b.header, b.dir, bFrames, ACCOUNTING);
  const pc = s.sink.commit(c.header, c.dir, c.frames, ACCOUNTING);
  await pa;
  await assert.rejects(pb, (err: unknown) => err instanceof UploadRefusedError && err.reason === "missing-frames");
  assert.equal(await pc, 2);
  assert.equal(txs.length, 2);
  assert.deepEqual(txs[1], [s.chunks[0]!.id, s.chunks[2]!.id], "C committed in the transaction B was refused in");
  // Nothing of B is recorded or in place; its staged frames wait for the handler's abort (or a retry).
  assert.deepEqual(
    s.store.frames.listByJob(s.job.id).map((f) => f.frame),
    [0, 1, 4, 5],
  );
  assert.equal(s.store.ledger.listByJob(s.job.id).filter((l) => l.attemptId === "att_b").length, 0);
  assert.equal(s.store.attempts.get("att_b")?.state, "running");
  assert.equal(s.store.chunks.get(s.chunks[1]!.id)?.state, "running");
  for (const f of b.data) assert.equal(existsSync(framePath(s.job, f.index)), false);
  assert.equal(readdirSync(b.dir).length, 2, "B's staged frames are not lost");
  for (const f of c.data) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data));
});
