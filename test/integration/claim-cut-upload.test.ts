// A claim stream broken while an upload is in flight on the same gRPC connection (the agent's gateway and sink
// clients share one: same address, options and credentials), over real grpc-js on loopback with the real sink
// handler, a real store and real files:
// - the connection cut under a claim's answer also breaks the upload: the claim is made again over the unary
//   call (taken once) and the upload goes the kept-frames way (agent/grpc/kept-frames.ts), sent again whole
//   under the same attempt once the agent reconnects, and committed once with every frame's bytes;
// - the claim stream alone dropped by the agent (its answer overdue) leaves the upload on that connection alone:
//   it commits on its first send, on its one stream.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test, type TestContext } from "node:test";
import { ClaimStream } from "../../agent/grpc/claim-stream.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { uploadAttempt } from "../../agent/grpc/result-uploader.ts";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import { answerClaim } from "../../coordinator/grpc/agent-gateway-handler.ts";
import { ClaimStreams } from "../../coordinator/grpc/claim-stream-handler.ts";
import type { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import type { ClaimRequest, ClaimResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { stagingDirFor } from "../../coordinator/sink/staging.ts";
import { startCutProxy, type CutProxy } from "../helpers/cut-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { ACCOUNTING, framePath, setupSink } from "../helpers/sink-fixture.ts";
import { queueChunk } from "../helpers/store-fixture.ts";

/**
 * The sink fixture (att_live uploading chunk 0, frames 0-2; chunk 1 queued for a claim), a coordinator whose
 * claim streams answer through `answer`, and an upload of att_live whose frames after the first wait for
 * `release`: the upload is in flight, its first frame staged, when the test breaks the claim stream.
 */
async function uploadInFlight(t: TestContext, answer: (claims: ClaimService, req: ClaimRequest) => Promise<ClaimResponse>, through?: (port: number) => Promise<string>) {
  const s = setupSink(t);
  const claimed = s.chunks[1]!;
  const dispatchId = queueChunk(s.store, claimed.id);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, { streamsOf: (claims) => new ClaimStreams((req) => answer(claims, req)) });
  const client = new CoordinatorClient(through ? await through(g.port) : `127.0.0.1:${g.port}`);
  defer(t, () => client.close());
  const sent = new Map<number, Buffer>();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  async function* frames(): AsyncIterable<EncodedFrame> {
    for (let i = 0; i < s.header.frameCount; i++) {
      if (i === 1) await gate;
      const data = randomBytes(4096);
      sent.set(i, data);
      yield { index: i, data, format: "png" };
    }
  }
  // In parts: a small chunk is otherwise held and sent whole at its end (agent/grpc/whole-upload.ts), never in flight.
  const uploading = uploadAttempt(client, s.header, frames(), async () => ACCOUNTING, new AbortController().signal, "stream-parts");
  const staging = stagingDirFor(s.outputRoot, s.header.attemptId);
  await eventually(() => existsSync(staging) && readdirSync(staging).length === 1, "the upload's first frame staged", 10_000);
  const ask = { agentId: s.agent.id, chunkId: claimed.id, dispatchId, delivery: 1 };
  return { s, g, client, claimed, ask, sent, release, uploading, staging };
}

/** The upload committed once, under its attempt, with every frame's bytes as sent and no frame left staged. */
function assertCommittedOnce(u: Awaited<ReturnType<typeof uploadInFlight>>): void {
  const { s, sent, staging } = u;
  assert.equal(s.store.attempts.get(s.header.attemptId)?.state, "committed");
  assert.equal(s.store.chunks.get(s.chunk.id)?.state, "done");
  assert.deepEqual(s.committed, [s.job.id], "one commit");
  const rows = s.store.db.prepare(`SELECT frame, attempt_id AS attemptId FROM frames WHERE chunk_id = ? ORDER BY frame`).all(s.chunk.id);
  assert.deepEqual(rows, [0, 1, 2].map((frame) => ({ frame, attemptId: s.header.attemptId })), "each frame recorded once, under the attempt");
  for (const [i, data] of sent) assert.ok(readFileSync(framePath(s.job, i)).equals(data), `frame ${i}'s bytes as sent`);
  // Its staging dir emptied by the commit (kept as a spare or removed: staging-removals.ts).
  assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], [], "nothing left staged");
}

test("the connection cut under a claim's answer while an upload is in flight: the claim is taken once, the upload is sent again from its kept frames and commits once", { timeout: 60_000 }, async (t) => {
  let proxy!: CutProxy;
  const u = await uploadInFlight(t, (claims, req) => {
    // The claim is taken and committed; its answer is the first thing the cut swallows.
    proxy.cutAfter(1);
    return answerClaim(claims, req);
  }, async (port) => (proxy = await startCutProxy(t, `127.0.0.1:${port}`)).address);

  const claim = await u.client.claim(u.ask.agentId, u.ask.chunkId, u.ask.dispatchId, u.ask.delivery);
  assert.equal(proxy.cuts, 1, "the link was cut under the claim's answer");
  assert.deepEqual({ skip: claim.skip, reason: claim.reason }, { skip: true, reason: "chunk is running" }, "the unary retry finds the claim the lost answer made");
  assert.equal(u.s.store.attempts.listByChunk(u.claimed.id).length, 1, "the claim taken once");
  u.release();
  const result = await u.uploading;
  assert.deepEqual({ committed: result.committed, framesWritten: result.framesWritten }, { committed: true, framesWritten: 3 });
  // The cut broke the upload too (one connection): its frames were sent again on a new stream.
  assert.equal(u.g.uploadStreams.opened, 2, "the upload was sent again, on a second stream");
  assert.equal(u.client.uploads.stats.opened, 2);
  assertCommittedOnce(u);
});

test("the claim stream alone dropped by the agent (its answer overdue) while an upload is in flight on the same connection: the upload goes on and commits on its first send", { timeout: 60_000 }, async (t) => {
  let answerNow!: () => void;
  const held = new Promise<void>((r) => (answerNow = r));
  defer(t, () => answerNow());
  const u = await uploadInFlight(t, async (claims, req) => {
    await held;
    return answerClaim(claims, req);
  });
  // Claims on the agent's connection, with an answer wait short enough to drop the stream in the test's time.
  const claims = new ClaimStream({ open: () => u.client.gateway.claimStream(), unary: (ask) => u.client.unaryClaim(ask), answerWithinMs: 300, reopenAfterMs: 60_000 });
  defer(t, () => claims.close());
  await assert.rejects(claims.claim(u.ask), (err: { code?: number }) => err.code === 4, "DEADLINE_EXCEEDED: the stream is dropped");
  assert.equal(claims.stats.breaks, 1);
  answerNow();
  u.release();
  const result = await u.uploading;
  assert.deepEqual({ committed: result.committed, framesWritten: result.framesWritten }, { committed: true, framesWritten: 3 });
  assert.equal(u.g.uploadStreams.opened, 1, "the upload's stream was not broken by the claim stream's drop");
  assertCommittedOnce(u);
  // The claim again (over the unary call now): whether or not the dropped stream's held claim was taken when let
  // go, the chunk has one attempt.
  const again = await claims.claim(u.ask);
  t.diagnostic(`the claim made again: ${again.skip ? again.reason : "taken"}`);
  assert.equal(u.s.store.attempts.listByChunk(u.claimed.id).length, 1, "the claim taken once");
});
