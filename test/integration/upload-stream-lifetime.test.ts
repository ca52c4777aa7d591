// How long an agent's upload stream lives (agent/grpc/upload-stream.ts,
// coordinator/grpc/upload-streams.ts), over real grpc-js on loopback with the
// real sink handler, a real store and real files: the stream stays open
// between chunks longer than the old 2 s idle close; the coordinator's stop
// ends open streams (idle ones at once, one with an upload under way once it
// is answered) instead of waiting on them; and after a coordinator restart
// the agent's next upload opens a new stream on the new coordinator, as it
// does after an idle stream's link went dead (noticed by keepalive).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { status, type Metadata, type ServiceError } from "@grpc/grpc-js";
import type { UploadAnswer } from "../../proto/gen/nightshift/v1/sink.ts";
import { uploadAttempt, type UploadTarget } from "../../agent/grpc/result-uploader.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import { stopGrpcServer } from "../../coordinator/grpc/grpc-server.ts";
import { stagingDirFor } from "../../coordinator/sink/staging.ts";
import { UPLOAD_STREAM_READY_KEY } from "../../shared/upload-codec.ts";
import { startBlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { ACCOUNTING, setupSink, sha256Hex, startAttempt } from "../helpers/sink-fixture.ts";
import { freePort } from "../support/free-port.ts";

const THREE = [[0, 2], [3, 5], [6, 8]] as const;

/** The sink fixture with three chunks live for the same agent: att_live (0-2), att_second (3-5), att_third (6-8). */
function sinkOfThree(t: TestContext) {
  const s = setupSink(t, { chunks: THREE });
  const targets: UploadTarget[] = [s.header];
  for (const [i, attemptId] of [[1, "att_second"], [2, "att_third"]] as const) {
    const chunk = s.chunks[i]!;
    startAttempt(s.store, chunk.id, s.agent.id, attemptId);
    targets.push({ ...s.header, chunkId: chunk.id, attemptId });
  }
  return { s, targets };
}

async function* framesOf(target: UploadTarget, first: number): AsyncIterable<EncodedFrame> {
  for (let i = 0; i < target.frameCount; i++) yield { index: first + i, data: randomBytes(2048), format: "png" };
}

const upload = (client: CoordinatorClient, target: UploadTarget, first: number) =>
  uploadAttempt(client, target, framesOf(target, first), async () => ACCOUNTING, new AbortController().signal);

test("uploads 3 s apart (a chunk longer than the old idle close) go on one stream, counted on the coordinator's side", async (t) => {
  const { s, targets } = sinkOfThree(t);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  assert.equal((await upload(g.client, targets[0]!, 0)).committed, true);
  await sleep(3_000);
  assert.equal((await upload(g.client, targets[1]!, 3)).committed, true);
  assert.equal(g.uploadStreams.opened, 1, "one stream opened on the coordinator for both chunks");
  assert.equal(g.uploadStreams.size, 1, "and still open, idle, after the second");
  assert.equal(g.client.uploads.stats.opened, 1);
});

test("the coordinator's stop ends open upload streams: an idle one at once, one with an upload under way once that upload is answered; the graceful stop does not wait on them", { timeout: 60_000 }, async (t) => {
  const { s, targets } = sinkOfThree(t);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  // An agent's own stream, idle after one upload.
  assert.equal((await upload(g.client, targets[0]!, 0)).committed, true);
  // A second stream with an upload under way (header and one frame in, the rest not yet sent).
  const call = g.client.sink.uploadStream();
  const answers: UploadAnswer[] = [];
  call.on("data", (a: UploadAnswer) => answers.push(a));
  const ready = new Promise<void>((resolve) => call.on("metadata", (md: Metadata) => md.get(UPLOAD_STREAM_READY_KEY).length > 0 && resolve()));
  const ended = new Promise<ServiceError>((resolve) => call.on("error", resolve));
  await ready;
  const frame = (index: number) => {
    const data = randomBytes(2048);
    return { index, data, sha256: sha256Hex(data), format: "png", size: data.length, pixelsSha256: "" };
  };
  call.write({ uploadId: 1, body: { $case: "header", value: targets[1]! } });
  call.write({ uploadId: 1, body: { $case: "frame", value: frame(3) } });
  const { uploadStreams } = g;
  await eventually(() => existsSync(stagingDirFor(s.outputRoot, "att_second")) && readdirSync(stagingDirFor(s.outputRoot, "att_second")).length === 1, "the first frame staged", 10_000);
  assert.equal(uploadStreams.size, 2);

  uploadStreams.close();
  // A grace far beyond the test's time: the stop completes only because the coordinator ended the streams.
  const stopped = stopGrpcServer(g.server, 600_000);
  // An upload begun after the stop is refused as UNAVAILABLE (the agent hands its chunk back); the one under way finishes.
  call.write({ uploadId: 2, body: { $case: "header", value: targets[2]! } });
  call.write({ uploadId: 1, body: { $case: "frame", value: frame(4) } });
  call.write({ uploadId: 1, body: { $case: "frame", value: frame(5) } });
  call.write({ uploadId: 1, body: { $case: "accounting", value: ACCOUNTING } });
  const err = await ended;
  await stopped;
  assert.equal(err.code, status.UNAVAILABLE, err.message);
  assert.equal(err.details, "the coordinator is stopping");
  const byId = new Map(answers.map((a) => [a.uploadId, a.outcome]));
  assert.deepEqual(byId.get(1), { $case: "result", value: { committed: true, framesWritten: 3, message: "" } }, "the upload under way was answered before the stream ended");
  assert.deepEqual(byId.get(2), { $case: "refusal", value: { code: status.UNAVAILABLE, details: "the coordinator is stopping", reason: "" } });
  assert.equal(s.store.attempts.get("att_second")?.state, "committed");
  assert.equal(s.store.attempts.get("att_third")?.state, "running", "the refused upload left its attempt as it was");
  assert.equal(uploadStreams.size, 0);
});

test("after a coordinator restart, the agent's next upload opens a new stream on the new coordinator and commits", { timeout: 60_000 }, async (t) => {
  const { s, targets } = sinkOfThree(t);
  const port = await freePort();
  const first = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, port);
  const { client } = first;
  assert.equal((await upload(client, targets[0]!, 0)).committed, true);
  first.uploadStreams.close();
  await stopGrpcServer(first.server, 600_000);

  const second = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, port);
  assert.equal((await upload(client, targets[1]!, 3)).committed, true);
  assert.equal(second.uploadStreams.opened, 1, "a new stream on the new coordinator");
  assert.equal(client.uploads.stats.opened, 2);
  assert.equal(s.store.attempts.get("att_second")?.state, "committed");
});

test("an idle open stream through a dead link is noticed by the channel's keepalive (shared/grpc-options.ts), and the next upload opens a new one", { timeout: 90_000 }, async (t) => {
  const { s, targets } = sinkOfThree(t);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const link = await startBlackholeProxy(t, `127.0.0.1:${g.port}`);
  const client = new CoordinatorClient(link.address);
  defer(t, () => client.close());
  assert.equal((await upload(client, targets[0]!, 0)).committed, true);
  assert.equal(g.uploadStreams.size, 1);
  // The link goes dead with the stream idle: nothing is closed, nothing passes. Only a keepalive ping
  // unanswered within its timeout (the agent's 2 s + 4 s: AGENT_KEEPALIVE_OPTIONS) tells the agent; its
  // connection closing then ends the stream.
  link.cut();
  await eventually(() => g.uploadStreams.size === 0, "the agent to give the dead connection up", 40_000);
  link.restore();
  assert.equal((await upload(client, targets[1]!, 3)).committed, true);
  assert.equal(client.uploads.stats.opened, 2, "a new stream for the next upload");
  assert.equal(g.uploadStreams.opened, 2);
});

test("a dead agent's open stream is dropped by the coordinator's own keepalive (GRPC_SERVER_OPTIONS): with the agent's pings off, only the server's ping notices the dead link", { timeout: 90_000 }, async (t) => {
  const { s, targets } = sinkOfThree(t);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const link = await startBlackholeProxy(t, `127.0.0.1:${g.port}`);
  // An agent that never pings (the machine died: it sends nothing, answers nothing).
  const client = new CoordinatorClient(link.address, undefined, { "grpc.keepalive_time_ms": 600_000, "grpc.keepalive_timeout_ms": 600_000 });
  defer(t, () => client.close());
  assert.equal((await upload(client, targets[0]!, 0)).committed, true);
  assert.equal(g.uploadStreams.size, 1);
  const cutAt = Date.now();
  link.cut();
  // Without the server's keepalive the stream stays open on the coordinator until TCP gives up (many minutes).
  await eventually(() => g.uploadStreams.size === 0, "the coordinator to drop the dead agent's stream", 40_000);
  t.diagnostic(`dropped ${Date.now() - cutAt} ms after the cut`);
});
