// ResultSink.UploadStream over real grpc-js on loopback, with the real sink
// handler and ResultSink over a real store and real files: many chunks'
// uploads on one stream, each answered alone; refusals that leave the stream
// usable; a stream broken mid-chunk; an older coordinator without the
// method; and, through a real coordinator's TLS front and peer guard, an agent
// removed while its stream is open.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { Server, ServerCredentials, status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import type { UploadAnswer, UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { uploadAttempt, type UploadTarget } from "../../agent/grpc/result-uploader.ts";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { resultSinkHandler } from "../../coordinator/grpc/result-sink-handler.ts";
import { STAGING_DIR, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { MAX_GRPC_MESSAGE_BYTES } from "../../shared/grpc-options.ts";
import { silentLogger } from "../../shared/log.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { UPLOAD_SERVICE } from "../../shared/upload-codec.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { ACCOUNTING, framePath, setupSink, sha256Hex, startAttempt } from "../helpers/sink-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";

type Sink = ReturnType<typeof setupSink>;

const makeFrames = (start: number, end: number, bytes = 4096): EncodedFrame[] =>
  Array.from({ length: end - start + 1 }, (_, i) => ({ index: start + i, data: randomBytes(bytes), format: "png" }));

async function* framesOf(frames: ReadonlyArray<EncodedFrame>): AsyncIterable<EncodedFrame> {
  for (const f of frames) yield f;
}

const refusalOf = (err: unknown) => ({ code: (err as ServiceError).code, refusal: (err as ServiceError).metadata?.get("refusal")[0]?.toString() });

/** Counts the client's Upload and UploadStream calls, and keeps the streams it opened. */
function countCalls(client: CoordinatorClient) {
  const seen = { unary: 0, streams: [] as Array<ClientDuplexStream<UploadMessage, UploadAnswer>> };
  const sink = client.sink as unknown as Record<"upload" | "uploadStream", (...a: unknown[]) => unknown>;
  const upload = sink.upload.bind(client.sink);
  const uploadStream = sink.uploadStream.bind(client.sink);
  sink.upload = (...a) => (seen.unary++, upload(...a));
  sink.uploadStream = (...a) => {
    const call = uploadStream(...a) as ClientDuplexStream<UploadMessage, UploadAnswer>;
    seen.streams.push(call);
    return call;
  };
  return seen;
}

/** The sink fixture (chunks 0-2 live as att_live, 3-5 live as att_second, same agent) behind real gRPC. */
async function setup(t: TestContext) {
  const s = setupSink(t);
  startAttempt(s.store, s.chunks[1]!.id, s.agent.id, "att_second");
  const second: UploadTarget = { ...s.header, chunkId: s.chunks[1]!.id, attemptId: "att_second" };
  const grpc = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  return { s, second, seen: countCalls(grpc.client), ...grpc };
}

const upload = (client: CoordinatorClient, target: UploadTarget, frames: EncodedFrame[], signal = new AbortController().signal) =>
  uploadAttempt(client, target, framesOf(frames), async () => ACCOUNTING, signal);

function assertCommitted(s: Sink, frames: EncodedFrame[], attemptId: string): void {
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data), `frame ${f.index}`);
  assert.equal(s.store.attempts.get(attemptId)?.state, "committed");
  assert.equal(s.store.ledger.listByJob(s.job.id).filter((l) => l.attemptId === attemptId).length, 1, "one ledger row: committed once");
}

/** Frames staged so far for `attemptId`. */
const staged = (s: Sink, attemptId: string): number => (existsSync(stagingDirFor(s.outputRoot, attemptId)) ? readdirSync(stagingDirFor(s.outputRoot, attemptId)).length : 0);

/** Nothing of `attemptId` reached the output root or the store, and it is still live. */
async function assertLeftNothing(s: Sink, attemptId: string, frames: EncodedFrame[]): Promise<void> {
  await eventually(() => !existsSync(stagingDirFor(s.outputRoot, attemptId)), "the staging dir to be removed", 10_000);
  for (const f of frames) assert.equal(existsSync(framePath(s.job, f.index)), false, `no final file for frame ${f.index}`);
  assert.equal(s.store.frames.listByJob(s.job.id).filter((r) => r.attemptId === attemptId).length, 0, "no frame rows");
  assert.equal(s.store.attempts.get(attemptId)?.state, "running");
}

test("two chunks' uploads share one stream, interleaved, and each is committed and answered alone", async (t) => {
  const { s, second, seen, client } = await setup(t);
  const a = makeFrames(0, 2);
  const b = makeFrames(3, 5);
  const [ra, rb] = await Promise.all([upload(client, s.header, a), upload(client, second, b)]);
  assert.deepEqual(ra, { committed: true, framesWritten: 3, message: "" });
  assert.deepEqual(rb, { committed: true, framesWritten: 3, message: "" });
  assertCommitted(s, a, s.header.attemptId);
  assertCommitted(s, b, "att_second");
  assert.equal(seen.streams.length, 1, "one stream for both");
  assert.equal(seen.unary, 0, "no Upload call");
  await s.sink.drained(); // emptied staging dirs go after the answers
  assert.deepEqual(readdirSync(join(s.outputRoot, STAGING_DIR)), []);
});

test("a stale attempt is refused on the stream as on Upload, and the next chunk on the same stream commits", async (t) => {
  const { s, second, seen, client } = await setup(t);
  s.store.attempts.finish(s.header.attemptId, "lost", 71_000);
  const a = makeFrames(0, 2);
  await assert.rejects(upload(client, s.header, a), (err: unknown) => {
    assert.deepEqual(refusalOf(err), { code: status.FAILED_PRECONDITION, refusal: "stale-attempt" });
    return true;
  });
  for (const f of a) assert.equal(existsSync(framePath(s.job, f.index)), false);
  const b = makeFrames(3, 5);
  assert.equal((await upload(client, second, b)).committed, true);
  assertCommitted(s, b, "att_second");
  assert.equal(seen.streams.length, 1, "the refusal did not end the stream");
});

test("a frame whose sha256 does not match, and an upload without a header, are refused on the stream; the stream goes on", async (t) => {
  const { s, second, client } = await setup(t);
  const call = client.sink.uploadStream();
  const answers: UploadAnswer[] = [];
  call.on("data", (a: UploadAnswer) => answers.push(a));
  const ended = new Promise<ServiceError | null>((resolve) => {
    call.on("error", resolve);
    call.on("end", () => resolve(null));
  });
  const data = randomBytes(1000);
  call.write({ uploadId: 1, body: { $case: "header", value: s.header } });
  call.write({ uploadId: 1, body: { $case: "frame", value: { index: 0, data, sha256: sha256Hex(randomBytes(1000)), format: "png", size: data.length, pixelsSha256: "" } } });
  call.write({ uploadId: 2, body: { $case: "frame", value: { index: 3, data, sha256: sha256Hex(data), format: "png", size: data.length, pixelsSha256: "" } } });
  const b = makeFrames(3, 5);
  call.write({ uploadId: 3, body: { $case: "header", value: second } });
  for (const f of b) call.write({ uploadId: 3, body: { $case: "frame", value: { index: f.index, data: Buffer.from(f.data), sha256: sha256Hex(f.data), format: "png", size: f.data.length, pixelsSha256: "" } } });
  call.write({ uploadId: 3, body: { $case: "accounting", value: ACCOUNTING } });
  // A frame for upload 1, already refused: dropped, it cannot change that upload's answer.
  call.write({ uploadId: 1, body: { $case: "frame", value: { index: 1, data, sha256: sha256Hex(data), format: "png", size: data.length, pixelsSha256: "" } } });
  call.end();
  assert.equal(await ended, null, "the stream ends cleanly");
  const byId = new Map(answers.map((a) => [a.uploadId, a.outcome]));
  assert.equal(answers.length, 3, "one answer per upload");
  assert.deepEqual(byId.get(1), { $case: "refusal", value: { code: status.FAILED_PRECONDITION, details: "frame 0: sha256 mismatch", reason: "bad-checksum" } });
  const two = byId.get(2);
  assert.equal(two?.$case === "refusal" && two.value.reason, "bad-message");
  assert.deepEqual(byId.get(3), { $case: "result", value: { committed: true, framesWritten: 3, message: "" } });
  assertCommitted(s, b, "att_second");
  await assertLeftNothing(s, s.header.attemptId, makeFrames(0, 2));
});

test("an upload cut short by the end of the stream is refused as truncated and leaves nothing", async (t) => {
  const { s, client } = await setup(t);
  const call = client.sink.uploadStream();
  const answers: UploadAnswer[] = [];
  call.on("data", (a: UploadAnswer) => answers.push(a));
  const ended = new Promise<void>((resolve) => call.on("end", resolve));
  call.on("error", () => undefined);
  const [f] = makeFrames(0, 0);
  call.write({ uploadId: 7, body: { $case: "header", value: s.header } });
  call.write({ uploadId: 7, body: { $case: "frame", value: { index: 0, data: Buffer.from(f!.data), sha256: sha256Hex(f!.data), format: "png", size: f!.data.length, pixelsSha256: "" } } });
  call.end();
  await ended;
  assert.equal(answers.length, 1);
  assert.equal(answers[0]?.outcome?.$case === "refusal" && answers[0].outcome.value.reason, "truncated");
  await assertLeftNothing(s, s.header.attemptId, makeFrames(0, 2));
});

test("an upload aborted by the agent is given up on the stream (nothing staged is left) and the stream serves the next chunk", async (t) => {
  const { s, second, seen, client } = await setup(t);
  const ac = new AbortController();
  const [first] = makeFrames(0, 0);
  async function* produce(): AsyncIterable<EncodedFrame> {
    yield first!;
    await eventually(() => staged(s, s.header.attemptId) === 1, "frame 0 staged", 10_000);
    ac.abort(new Error("agent stopping"));
    throw new Error("executor aborted");
  }
  // Sent in parts (a small chunk is otherwise held and sent whole at its end: nothing would be staged to drop).
  await assert.rejects(uploadAttempt(client, s.header, produce(), async () => ACCOUNTING, ac.signal, "stream-parts"), /executor aborted/);
  await assertLeftNothing(s, s.header.attemptId, makeFrames(0, 2));
  const b = makeFrames(3, 5);
  assert.equal((await upload(client, second, b)).committed, true);
  assert.equal(seen.streams.length, 1);
});

test("a stream broken mid-chunk: the upload fails as a cut Upload call would, nothing is half-committed, and the chunk sent again commits once", async (t) => {
  const { s, seen, client } = await setup(t);
  const frames = makeFrames(0, 2);
  async function* produce(): AsyncIterable<EncodedFrame> {
    yield frames[0]!;
    yield frames[1]!;
    await eventually(() => staged(s, s.header.attemptId) === 2, "two frames staged", 10_000);
    seen.streams[0]!.cancel(); // the link is cut under the upload
    await new Promise((r) => setTimeout(r, 50));
    yield frames[2]!;
  }
  // Sent in parts: a stream cut with two frames staged (sent whole, nothing would reach the sink before the cut).
  await assert.rejects(uploadAttempt(client, s.header, produce(), async () => ACCOUNTING, new AbortController().signal, "stream-parts"), (err: unknown) => {
    assert.equal((err as ServiceError).code, status.CANCELLED);
    return true;
  });
  await assertLeftNothing(s, s.header.attemptId, frames);
  assert.equal(s.store.ledger.listByJob(s.job.id).length, 0);
  // Sent again (the same live attempt): a new stream, one commit.
  assert.equal((await upload(client, s.header, frames)).committed, true);
  assertCommitted(s, frames, s.header.attemptId);
  assert.equal(seen.streams.length, 2, "a new stream after the broken one");
});

test("a coordinator without UploadStream (UNIMPLEMENTED) gets every upload as Upload, and is not asked again", async (t) => {
  const s = setupSink(t);
  startAttempt(s.store, s.chunks[1]!.id, s.agent.id, "att_second");
  const server = new Server();
  const { upload: onlyUpload } = UPLOAD_SERVICE;
  server.addService({ upload: onlyUpload }, { upload: resultSinkHandler(s.sink, testLog()).upload });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  defer(t, () => void server.forceShutdown());
  const client = new CoordinatorClient(`127.0.0.1:${port}`);
  defer(t, () => client.close());
  const seen = countCalls(client);
  const a = makeFrames(0, 2);
  const b = makeFrames(3, 5);
  assert.equal((await upload(client, s.header, a)).committed, true);
  assert.equal((await upload(client, { ...s.header, chunkId: s.chunks[1]!.id, attemptId: "att_second" }, b)).committed, true);
  assertCommitted(s, a, s.header.attemptId);
  assertCommitted(s, b, "att_second");
  assert.deepEqual({ streams: seen.streams.length, unary: seen.unary }, { streams: 1, unary: 2 });
});

test("through a real coordinator's peer guard: an agent removed while its stream is open is refused at its next chunk", async (t) => {
  const dir = tempDir(t, "ns-upload-stream-");
  const c = await startTestCoordinator(t, dir);
  const { token } = c.trust.tokens.create({ ttlMs: 60_000, multiUse: false, label: "streamer" });
  const conn = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: token, dataDir: join(dir, "agent"), name: "streamer", log: silentLogger() });
  const channel = studioChannelCredentials(conn.credentials);
  const client = new CoordinatorClient(c.address, channel.credentials, channel.options);
  defer(t, () => client.close());
  const agentId = conn.credentials.agentId;
  const header = (attemptId: string) => ({ jobId: "job_x", chunkId: "chk_x", attemptId, agentId, frameCount: 1 });
  const call = client.sink.uploadStream();
  const answers: UploadAnswer[] = [];
  call.on("data", (a: UploadAnswer) => answers.push(a));
  const failed = new Promise<ServiceError>((resolve) => call.on("error", resolve));
  call.write({ uploadId: 1, body: { $case: "header", value: header("att_one") } });
  await eventually(() => answers.length === 1, "the first upload's answer", 10_000);
  assert.equal(answers[0]?.outcome?.$case === "refusal" && answers[0].outcome.value.reason, "unknown-attempt", "let in by the guard, refused by the sink");
  await c.enrollment.remove(agentId);
  call.write({ uploadId: 2, body: { $case: "header", value: header("att_two") } });
  const err = await Promise.race([failed, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
  assert.ok(err, "the stream must be refused");
  assert.equal(err.code, status.PERMISSION_DENIED);
  assert.match(err.details, /was removed/);
  assert.equal(answers.length, 1, "the second upload never reached the sink");
});

test("through a real coordinator: a header naming another agent, or an oversized message, on the stream is refused as on Upload and nothing is written", async (t) => {
  const dir = tempDir(t, "ns-upload-stream-hostile-");
  const c = await startTestCoordinator(t, dir);
  const { token } = c.trust.tokens.create({ ttlMs: 60_000, multiUse: true, label: "hostile" });
  const conn = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: token, dataDir: join(dir, "agent"), name: "hostile", log: silentLogger() });
  const channel = studioChannelCredentials(conn.credentials);
  const client = new CoordinatorClient(c.address, channel.credentials, { ...channel.options, "grpc.max_send_message_length": -1 });
  defer(t, () => client.close());
  const refusedWith = async (messages: UploadMessage[]): Promise<ServiceError> => {
    const call = client.sink.uploadStream();
    const failed = new Promise<ServiceError>((resolve) => call.on("error", resolve));
    call.on("data", () => undefined);
    for (const m of messages) call.write(m);
    return failed;
  };
  const other = await refusedWith([{ uploadId: 1, body: { $case: "header", value: { jobId: "j", chunkId: "c", attemptId: "a", agentId: "agt_someone_else", frameCount: 1 } } }]);
  assert.equal(other.code, status.PERMISSION_DENIED);
  const big = Buffer.alloc(MAX_GRPC_MESSAGE_BYTES + 1024, 7);
  const oversized = await refusedWith([{ uploadId: 1, body: { $case: "frame", value: { index: 0, data: big, sha256: "0".repeat(64), format: "png", size: big.length, pixelsSha256: "" } } }]);
  assert.equal(oversized.code, status.RESOURCE_EXHAUSTED, oversized.message);
  assert.deepEqual(readdirSync(join(dir, "output")).filter((n) => n !== STAGING_DIR), [], "nothing under the output root");
});
