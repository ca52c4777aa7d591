// A claim stream broken while an upload is in flight on the same gRPC connection (the agent's gateway and sink
// clients share one: same address, options and credentials), over real grpc-js on loopback with the real sink
// handler, a real store and real files:
// - the connection cut under a claim's answer also breaks the upload: the claim is made again over the unary
//   call (taken once) and the upload goes the kept-frames way (agent/grpc/kept-frames.ts), sent again whole
//   under the same attempt once the agent reconnects, and committed once with every frame's bytes;
// - the claim stream alone dropped by the agent (its answer overdue) leaves the upload on that connection alone:
//   it commits on its first send, on its one stream.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClaimStream } from "../../agent/grpc/claim-stream.ts";
import { answerClaim } from "../../coordinator/grpc/agent-gateway-handler.ts";
import { startCutProxy, type CutProxy } from "../helpers/cut-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { assertCommittedOnce, uploadInFlight } from "../helpers/upload-in-flight.ts";

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
