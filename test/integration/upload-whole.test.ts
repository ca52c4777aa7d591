// A small chunk's upload as one `whole` message on ResultSink.UploadStream
// (agent/grpc/whole-upload.ts), over real grpc-js on loopback with the real
// sink handler and ResultSink over a real store and real files: sent whole
// where the coordinator offers it, in parts past the bound or to a
// coordinator that does not offer it; refused by the same rules as the
// three kinds, leaving nothing; and, through a real coordinator's peer guard,
// a whole upload naming another agent refused.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { Server, ServerCredentials, status, type ClientDuplexStream, type Metadata, type ServerDuplexStream, type ServiceError } from "@grpc/grpc-js";
import type { UploadAnswer, UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { uploadAttempt, type UploadTarget } from "../../agent/grpc/result-uploader.ts";
import { WHOLE_MAX_BYTES } from "../../agent/grpc/whole-upload.ts";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { resultSinkHandler } from "../../coordinator/grpc/result-sink-handler.ts";
import { STAGING_DIR, stagingDirFor } from "../../coordinator/sink/staging.ts";
import { silentLogger } from "../../shared/log.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { UPLOAD_SERVICE, UPLOAD_WHOLE_KEY } from "../../shared/upload-codec.ts";
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

/** The kinds of the messages the client's upload streams send, in order. */
function sentKinds(client: CoordinatorClient): string[] {
  const kinds: string[] = [];
  const sink = client.sink as unknown as Record<"uploadStream", (...a: unknown[]) => unknown>;
  const uploadStream = sink.uploadStream.bind(client.sink);
  sink.uploadStream = (...a) => {
    const call = uploadStream(...a) as ClientDuplexStream<UploadMessage, UploadAnswer>;
    const write = call.write.bind(call) as (m: UploadMessage, ...rest: unknown[]) => boolean;
    (call as { write: unknown }).write = (m: UploadMessage, ...rest: unknown[]) => (kinds.push(m.body?.$case ?? "none"), write(m, ...rest));
    return call;
  };
  return kinds;
}

const upload = (client: CoordinatorClient, target: UploadTarget, frames: EncodedFrame[]) => uploadAttempt(client, target, framesOf(frames), async () => ACCOUNTING, new AbortController().signal);

function assertCommitted(s: Sink, frames: EncodedFrame[], attemptId: string): void {
  for (const f of frames) assert.deepEqual(readFileSync(framePath(s.job, f.index)), Buffer.from(f.data), `frame ${f.index}`);
  assert.equal(s.store.attempts.get(attemptId)?.state, "committed");
  assert.equal(s.store.ledger.listByJob(s.job.id).filter((l) => l.attemptId === attemptId).length, 1, "one ledger row: committed once");
}

/** Nothing of `attemptId` reached the output root or the store, and it is still live. */
async function assertLeftNothing(s: Sink, attemptId: string, frames: EncodedFrame[]): Promise<void> {
  await eventually(() => !existsSync(stagingDirFor(s.outputRoot, attemptId)), "the staging dir to be removed", 10_000);
  for (const f of frames) assert.equal(existsSync(framePath(s.job, f.index)), false, `frame ${f.index} must not be in place`);
  assert.equal(s.store.ledger.listByJob(s.job.id).filter((l) => l.attemptId === attemptId).length, 0);
}

/** A sink behind real grpc-js and an upload stream written by hand: its answers by upload id, three frames and their wire form. */
async function rawStream(t: TestContext) {
  const s = setupSink(t);
  const { client } = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const call = client.sink.uploadStream();
  const answers = new Map<number, UploadAnswer["outcome"]>();
  call.on("data", (a: UploadAnswer) => answers.set(a.uploadId, a.outcome));
  call.on("error", () => undefined);
  defer(t, () => call.cancel());
  const frames = makeFrames(0, 2);
  const wire = frames.map((f) => ({ index: f.index, data: Buffer.from(f.data), sha256: sha256Hex(f.data), format: "png", size: f.data.length, pixelsSha256: "" }));
  return { s, call, answers, frames, wire };
}

test("a small chunk goes as one whole message where the coordinator offers it, and commits as three kinds would", async (t) => {
  const s = setupSink(t);
  const { client } = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const kinds = sentKinds(client);
  const frames = makeFrames(0, 2);
  const result = await upload(client, s.header, frames);
  assert.deepEqual(result, { committed: true, framesWritten: 3, message: "" });
  assert.deepEqual(kinds, ["whole"], "one message for the whole upload");
  assertCommitted(s, frames, s.header.attemptId);
  const ledger = s.store.ledger.listByJob(s.job.id)[0];
  assert.equal(ledger?.wallSeconds, ACCOUNTING.wallSeconds, "the accounting carried in the whole message is recorded");
});

test("an upload past the bound streams in parts: header and the held frames at once, then the rest", async (t) => {
  const s = setupSink(t, { maxFrameBytes: 1 << 20 });
  const { client } = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const kinds = sentKinds(client);
  // Two frames fit under the bound, the third passes it.
  const frames = makeFrames(0, 2, Math.floor(WHOLE_MAX_BYTES / 2.5));
  assert.equal((await upload(client, s.header, frames)).committed, true);
  assert.deepEqual(kinds, ["header", "frame", "frame", "frame", "accounting"]);
  assertCommitted(s, frames, s.header.attemptId);
});

test("a held upload begun before another that sends first is still answered: its id is taken at its first message, since the sink drops an id below one it has seen", async (t) => {
  const s = setupSink(t);
  const { client } = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const kinds = sentKinds(client);
  const second = s.chunks[1]!;
  startAttempt(s.store, second.id, s.agent.id, "att_second");
  const framesA = makeFrames(0, 2);
  const framesB = makeFrames(3, 5);
  // A is held (sent whole at its end) and waits for its frames; B, begun after it, streams in parts and commits first.
  let begun!: () => void;
  let open!: () => void;
  const pulled = new Promise<void>((r) => (begun = r));
  const gate = new Promise<void>((r) => (open = r));
  async function* slowFrames(): AsyncIterable<EncodedFrame> {
    begun();
    await gate;
    yield* framesA;
  }
  const a = uploadAttempt(client, s.header, slowFrames(), async () => ACCOUNTING, new AbortController().signal);
  await pulled; // A's upload has begun on the stream
  const headerB = { ...s.header, chunkId: second.id, attemptId: "att_second" };
  const b = await uploadAttempt(client, headerB, framesOf(framesB), async () => ACCOUNTING, new AbortController().signal, "stream-parts");
  assert.equal(b.committed, true);
  open();
  const answered = await Promise.race([a, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
  assert.deepEqual(answered, { committed: true, framesWritten: 3, message: "" }, "the held upload must be answered (before the fix its whole message was dropped as an upload already over)");
  assert.deepEqual(kinds, ["header", "frame", "frame", "frame", "accounting", "whole"]);
  assertCommitted(s, framesA, s.header.attemptId);
  assertCommitted(s, framesB, "att_second");
});

test("a coordinator that does not offer whole uploads (an older one) gets header, frames and accounting", async (t) => {
  const s = setupSink(t);
  const server = new Server();
  const handlers = resultSinkHandler(s.sink, testLog());
  server.addService(UPLOAD_SERVICE, {
    upload: handlers.upload,
    // The ready metadata as an older coordinator sends it: without UPLOAD_WHOLE_KEY.
    uploadStream: (call: ServerDuplexStream<UploadMessage, UploadAnswer>) => {
      const send = call.sendMetadata.bind(call);
      call.sendMetadata = (md: Metadata) => (md.remove(UPLOAD_WHOLE_KEY), send(md));
      handlers.uploadStream(call);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  defer(t, () => void server.forceShutdown());
  const client = new CoordinatorClient(`127.0.0.1:${port}`);
  defer(t, () => client.close());
  const kinds = sentKinds(client);
  const frames = makeFrames(0, 2);
  assert.equal((await upload(client, s.header, frames)).committed, true);
  assert.deepEqual(kinds, ["header", "frame", "frame", "frame", "accounting"]);
  assertCommitted(s, frames, s.header.attemptId);
});

test("whole uploads are refused by the same rules (stale attempt, bad sha256, no accounting, after a header) and leave nothing; the stream goes on", async (t) => {
  const { s, call, answers, frames, wire } = await rawStream(t);
  const whole = (uploadId: number, over: Partial<{ header: UploadTarget; frames: typeof wire; accounting: typeof ACCOUNTING | undefined }> = {}): UploadMessage => ({
    uploadId,
    body: { $case: "whole", value: { header: s.header, frames: wire, accounting: ACCOUNTING, ...over } },
  });
  call.write(whole(1, { header: { ...s.header, attemptId: "att_gone" } }));
  call.write(whole(2, { frames: [wire[0]!, { ...wire[1]!, sha256: "0".repeat(64) }, wire[2]!] }));
  call.write(whole(3, { accounting: undefined }));
  call.write({ uploadId: 4, body: { $case: "header", value: s.header } });
  call.write(whole(4));
  await eventually(() => answers.size === 4, "four refusals", 10_000);
  const reason = (id: number): string | false => answers.get(id)?.$case === "refusal" && (answers.get(id) as { value: { reason: string } }).value.reason;
  assert.deepEqual([reason(1), reason(2), reason(3), reason(4)], ["unknown-attempt", "bad-checksum", "truncated", "bad-message"]);
  await assertLeftNothing(s, s.header.attemptId, frames);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "running", "still live");
  call.write(whole(5));
  await eventually(() => answers.has(5), "the fifth upload's answer", 10_000);
  assert.deepEqual(answers.get(5), { $case: "result", value: { committed: true, framesWritten: 3, message: "" } });
  assertCommitted(s, frames, s.header.attemptId);
});

test("an upload begun under an id not above one already begun on the stream is refused, not left unanswered", async (t) => {
  const { s, call, answers, frames, wire } = await rawStream(t);
  call.write({ uploadId: 2, body: { $case: "header", value: { ...s.header, attemptId: "att_gone" } } });
  call.write({ uploadId: 1, body: { $case: "whole", value: { header: s.header, frames: wire, accounting: ACCOUNTING } } });
  await eventually(() => answers.has(1), "an answer to the upload under the lower id", 10_000);
  const outcome = answers.get(1);
  assert.equal(outcome?.$case, "refusal");
  assert.equal((outcome as { value: { reason: string; details: string } }).value.reason, "bad-message");
  assert.match((outcome as { value: { details: string } }).value.details, /upload id 1 is not above the last one begun on this stream \(2\)/);
  await assertLeftNothing(s, s.header.attemptId, frames);
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "running", "still live");
});

test("through a real coordinator's peer guard: a whole upload naming another agent is refused and nothing is written", async (t) => {
  const dir = tempDir(t, "ns-upload-whole-hostile-");
  const c = await startTestCoordinator(t, dir);
  const { token } = c.trust.tokens.create({ ttlMs: 60_000, multiUse: false, label: "hostile" });
  const conn = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: token, dataDir: join(dir, "agent"), name: "hostile", log: silentLogger() });
  const channel = studioChannelCredentials(conn.credentials);
  const client = new CoordinatorClient(c.address, channel.credentials, channel.options);
  defer(t, () => client.close());
  const call = client.sink.uploadStream();
  const failed = new Promise<ServiceError>((resolve) => call.on("error", resolve));
  const answers: UploadAnswer[] = [];
  call.on("data", (a: UploadAnswer) => answers.push(a));
  const data = randomBytes(1024);
  const frame = { index: 0, data, sha256: sha256Hex(data), format: "png", size: data.length, pixelsSha256: "" };
  call.write({ uploadId: 1, body: { $case: "whole", value: { header: { jobId: "j", chunkId: "c", attemptId: "a", agentId: "agt_someone_else", frameCount: 1 }, frames: [frame], accounting: ACCOUNTING } } });
  const err = await Promise.race([failed, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
  assert.ok(err, "the stream must be refused");
  assert.equal(err.code, status.PERMISSION_DENIED);
  assert.match(err.details, /may only act for itself/);
  assert.equal(answers.length, 0, "the upload never reached the sink");
  assert.deepEqual(readdirSync(join(dir, "output")).filter((n) => n !== STAGING_DIR), [], "nothing under the output root");
});
