import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { status, type ClientWritableStream, type ServiceError } from "@grpc/grpc-js";
import type { UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { uploadAttempt, type UploadTarget } from "../../agent/grpc/result-uploader.ts";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import { STAGING_DIR, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { queueChunk } from "../helpers/store-fixture.ts";
import { ACCOUNTING, framePath, setupSink, sha256Hex } from "../helpers/sink-fixture.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { eventually } from "../helpers/eventually.ts";

type Sink = ReturnType<typeof setupSink>;

async function* framesOf(frames: ReadonlyArray<EncodedFrame>): AsyncIterable<EncodedFrame> {
  for (const f of frames) yield f;
}

const makeFrames = (start: number, end: number, bytes = 4096): EncodedFrame[] =>
  Array.from({ length: end - start + 1 }, (_, i) => ({ index: start + i, data: randomBytes(bytes), format: "png" }));

const targetOf = (s: Sink): UploadTarget => ({ ...s.header });

function refusalOf(err: unknown): { code: number | undefined; refusal: string | undefined } {
  const e = err as ServiceError;
  return { code: e.code, refusal: e.metadata?.get("refusal")[0]?.toString() };
}

/** Sends raw upload messages and ends the stream; resolves with the server's answer. */
function rawUpload(client: CoordinatorClient, messages: UploadMessage[]): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const call = client.sink.upload((err, res) => (err ? reject(err) : resolve(res)));
    for (const m of messages) call.write(m);
    call.end();
  });
}

/** Wraps client.sink.upload so the test can see each call (and optionally rewrite what is written). */
function interceptUploads(client: CoordinatorClient, rewrite: (m: UploadMessage) => UploadMessage = (m) => m) {
  const seen = { calls: 0, writesRefused: 0, drainWaits: 0 };
  const original = client.sink.upload.bind(client.sink) as (cb: (e: ServiceError | null, r: UploadResult) => void) => ClientWritableStream<UploadMessage>;
  (client.sink as unknown as { upload: typeof original }).upload = (cb) => {
    seen.calls++;
    const call = original(cb);
    call.on("newListener", (event) => {
      if (event === "drain") seen.drainWaits++;
    });
    const write = call.write.bind(call) as (m: UploadMessage) => boolean;
    (call as unknown as { write: typeof write }).write = (m) => {
      const ok = write(rewrite(m));
      if (!ok) seen.writesRefused++;
      return ok;
    };
    return call;
  };
  return seen;
}

/** Nothing of the attempt reached the output root or the store. */
async function assertLeftNothing(s: Sink): Promise<void> {
  await eventually(() => !existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), "the staging dir to be removed", 3000);
  for (let i = s.chunk.frameStart; i <= s.chunk.frameEnd; i++) assert.equal(existsSync(framePath(s.job, i)), false, `no final file for frame ${i}`);
  assert.equal(s.store.frames.countByJob(s.job.id), 0);
  assert.equal(s.store.ledger.listByJob(s.job.id).length, 0);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "running");
  assert.equal(s.store.chunks.get(s.chunk.id)?.state, "running");
}

async function setup(t: TestContext, opts: Parameters<typeof setupSink>[1] = {}) {
  const s = setupSink(t, opts);
  const grpc = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  return { s, ...grpc };
}

test("join, claim and upload over real gRPC: the attempt commits with exact bytes and the accounting", async (t) => {
  const { s, client } = await setup(t, { chunks: [[0, 2], [3, 6]] });
  const joined = await client.join({ agentId: "", name: "render-07", version: "0.1.0", gpus: [], ramBytes: 1, cpuCount: 2, tags: [], executors: [], kinds: [{ kind: "model", version: "1.30.0", features: [], devices: [] }], joinToken: "", healthPort: 0 });
  assert.match(joined.agentId, /^agt_/);
  const chunk = s.chunks[1]!;
  const dispatchId = queueChunk(s.store, chunk.id);
  const claim = await client.claim(joined.agentId, chunk.id, dispatchId, 1);
  assert.equal(claim.skip, false, claim.reason);
  const work = JSON.parse(claim.workJson) as { attemptId: string; frameStart: number; frameEnd: number };
  assert.equal(work.attemptId, claim.attemptId);
  assert.deepEqual([work.frameStart, work.frameEnd], [3, 6]);

  const frames = makeFrames(3, 6);
  let finishCalledAfterFrames = false;
  let yielded = 0;
  async function* produce(): AsyncIterable<EncodedFrame> {
    for (const f of frames) {
      yielded++;
      yield f;
    }
  }
  const result = await uploadAttempt(
    client,
    { jobId: s.job.id, chunkId: chunk.id, attemptId: claim.attemptId, agentId: joined.agentId, frameCount: 4 },
    produce(),
    async () => {
      finishCalledAfterFrames = yielded === frames.length;
      return ACCOUNTING;
    },
    new AbortController().signal,
  );
  assert.deepEqual(result, { committed: true, framesWritten: 4, message: "" });
  assert.ok(finishCalledAfterFrames, "accounting is asked for after the last frame");
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data), `frame ${f.index}`);
  assert.equal(s.store.chunks.get(chunk.id)?.state, "done");
  assert.equal(s.store.attempts.get(claim.attemptId)?.state, "committed");
  const [ledger] = s.store.ledger.listByJob(s.job.id);
  assert.deepEqual({ ...ledger!, samples: ACCOUNTING.samples }, { ...ACCOUNTING, jobId: s.job.id, chunkId: chunk.id, attemptId: claim.attemptId, agentId: joined.agentId, frames: 4, finishedAt: 70_000 });
  await s.sink.drained(); // emptied staging dirs go after the answers
  assert.deepEqual(readdirSync(join(s.outputRoot, STAGING_DIR)), []);
});

test("a stream that ends without the accounting message is refused as truncated and leaves nothing", async (t) => {
  const { s, client } = await setup(t);
  const frames = makeFrames(0, 2).map((f): UploadMessage => ({
    body: { $case: "frame", value: { index: f.index, data: Buffer.from(f.data), sha256: sha256Hex(f.data), format: "png", size: f.data.length, pixelsSha256: "" } },
    uploadId: 0,
  }));
  await assert.rejects(rawUpload(client, [{ body: { $case: "header", value: s.header }, uploadId: 0 }, ...frames]), (err: unknown) => {
    assert.deepEqual(refusalOf(err), { code: status.FAILED_PRECONDITION, refusal: "truncated" });
    return true;
  });
  await assertLeftNothing(s);
});

test("a frame whose sha256 does not match is refused as bad-checksum (raw stream)", async (t) => {
  const { s, client } = await setup(t);
  const data = randomBytes(1000);
  const messages: UploadMessage[] = [
    { body: { $case: "header", value: s.header }, uploadId: 0 },
    { body: { $case: "frame", value: { index: 0, data, sha256: sha256Hex(randomBytes(1000)), format: "png", size: data.length, pixelsSha256: "" } }, uploadId: 0 },
  ];
  await assert.rejects(rawUpload(client, messages), (err: unknown) => {
    assert.deepEqual(refusalOf(err), { code: status.FAILED_PRECONDITION, refusal: "bad-checksum" });
    return true;
  });
  await assertLeftNothing(s);
});

test("a frame corrupted in transit is refused and uploadAttempt rejects with FAILED_PRECONDITION", async (t) => {
  const { s, client } = await setup(t);
  // Flip one byte of frame 1 after the uploader computed its digest: what a bad NIC or cable would do.
  interceptUploads(client, (m) => {
    if (m.body?.$case !== "frame" || m.body.value.index !== 1) return m;
    const data = Buffer.from(m.body.value.data);
    data[10]! ^= 0xff;
    return { body: { $case: "frame", value: { ...m.body.value, data } }, uploadId: m.uploadId };
  });
  await assert.rejects(
    uploadAttempt(client, targetOf(s), framesOf(makeFrames(0, 2)), async () => ACCOUNTING, new AbortController().signal, "unary"),
    (err: unknown) => {
      assert.deepEqual(refusalOf(err), { code: status.FAILED_PRECONDITION, refusal: "bad-checksum" });
      return true;
    },
  );
  await assertLeftNothing(s);
});

test("an upload for a lost attempt is refused as stale-attempt", async (t) => {
  const { s, client, claims } = await setup(t);
  claims.loseAgentAttempts(s.agent.id, "heartbeat timeout");
  await assert.rejects(
    uploadAttempt(client, targetOf(s), framesOf(makeFrames(0, 2)), async () => ACCOUNTING, new AbortController().signal, "unary"),
    (err: unknown) => {
      assert.deepEqual(refusalOf(err), { code: status.FAILED_PRECONDITION, refusal: "stale-attempt" });
      return true;
    },
  );
  assert.equal(existsSync(stagingDirFor(s.outputRoot, s.header.attemptId)), false);
  assert.equal(s.store.frames.countByJob(s.job.id), 0);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "lost");
});

test("an upload aborted by the agent leaves nothing behind", async (t) => {
  const { s, client } = await setup(t);
  const ac = new AbortController();
  const frames = makeFrames(0, 2);
  async function* produce(): AsyncIterable<EncodedFrame> {
    yield frames[0]!;
    // The agent is told to stop (drain, cancel) mid-chunk.
    ac.abort();
    await new Promise((r) => setTimeout(r, 50));
    yield frames[1]!;
  }
  await assert.rejects(uploadAttempt(client, targetOf(s), produce(), async () => ACCOUNTING, ac.signal, "unary"), (err: unknown) => {
    assert.equal((err as ServiceError).code, status.CANCELLED);
    return true;
  });
  await assertLeftNothing(s);
});

test("backpressure: 40 frames of 1 MiB stream through flow control and land byte-exact", async (t) => {
  const { s, client } = await setup(t, { chunks: [[0, 39]], maxFrameBytes: 2 * 1024 * 1024 });
  const seen = interceptUploads(client);
  const frames = makeFrames(0, 39, 1024 * 1024);
  const result = await uploadAttempt(client, targetOf(s), framesOf(frames), async () => ACCOUNTING, new AbortController().signal, "unary");
  assert.deepEqual(result, { committed: true, framesWritten: 40, message: "" });
  for (const f of frames) {
    assert.equal(sha256Hex(readFileSync(framePath(s.job, f.index))), sha256Hex(f.data), `frame ${f.index} bytes`);
  }
  assert.equal(s.store.frames.countByJob(s.job.id), 40);
  assert.equal(seen.calls, 1);
  assert.ok(seen.writesRefused >= 1, `write() signalled backpressure (returned false ${seen.writesRefused} times)`);
  assert.ok(seen.drainWaits >= 1, `the uploader waited for 'drain' (${seen.drainWaits} times)`);
  t.diagnostic(`write() returned false ${seen.writesRefused} times; drain awaited ${seen.drainWaits} times`);
});
