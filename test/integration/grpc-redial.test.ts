// The agent's gRPC connections dialled again (CoordinatorClient.redial) after a link cut, over real grpc-js on
// loopback with the real sink handler, a real store and real files. The link is back, but the connections open
// through it carry nothing any more and nothing closes them (the coordinator was killed during the cut and no
// reset reaches the agent, or the far end waits out its TCP retransmit backoff): without a new dial, the upload and
// the claim on them wait for the channel's keepalive to give up on the connection, 4-6 s after the cut
// (AGENT_KEEPALIVE_OPTIONS, grpc-dead-link-keepalive.test.ts). The agent dials again when its NATS link comes back
// from a silent cut (agent/nats/link-settings.ts watchStaleLinks; test nats-silent-link-relink.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { answerClaim } from "../../coordinator/grpc/agent-gateway-handler.ts";
import { startBlackholeProxy, type BlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { assertCommittedOnce, uploadInFlight } from "../helpers/upload-in-flight.ts";

/**
 * Most time from the new dial to the upload's commit and the claim's answer. Well under the keepalive's earliest
 * drop of the silent connection (its ping sent at once, unanswered for 4 s), which is what they wait for without
 * the new dial: 6.1 s (claim) and 6.6 s (commit) that way in a run with the dial left out, against 0.07 and 0.12 s with it.
 */
const SETTLED_WITHIN_MS = 3_000;

test("connections gone silent under an upload and a claim: the agent dials again, the claim is answered and the upload, sent again from its kept frames, commits once on the new connection", { timeout: 60_000 }, async (t) => {
  let proxy!: BlackholeProxy;
  const u = await uploadInFlight(t, (claims, req) => answerClaim(claims, req), async (port) => (proxy = await startBlackholeProxy(t, `127.0.0.1:${port}`)).address);
  const acceptedBefore = proxy.accepted;

  // The link back, its connection deaf: the claim opens the claim stream on it and is never heard.
  proxy.deafen();
  const claiming = u.client.claim(u.ask.agentId, u.ask.chunkId, u.ask.dispatchId, u.ask.delivery);
  u.release();

  const dialledAt = performance.now();
  u.client.redial();
  const claim = await claiming;
  const claimedMs = performance.now() - dialledAt;
  const result = await u.uploading;
  const committedMs = performance.now() - dialledAt;
  t.diagnostic(`claim answered ${claimedMs.toFixed(0)} ms and upload committed ${committedMs.toFixed(0)} ms after the new dial`);

  assert.equal(claim.skip, false, `the claim taken on the new connection: ${claim.reason}`);
  assert.equal(u.s.store.attempts.listByChunk(u.claimed.id).length, 1, "the claim taken once");
  assert.deepEqual({ committed: result.committed, framesWritten: result.framesWritten }, { committed: true, framesWritten: 3 });
  assertCommittedOnce(u);
  assert.ok(proxy.accepted > acceptedBefore, "new connections were opened");
  assert.equal(u.client.dials, 2);
  assert.ok(committedMs < SETTLED_WITHIN_MS, `committed ${committedMs.toFixed(0)} ms after the new dial (bound ${SETTLED_WITHIN_MS} ms; the silent connection's keepalive gives up after 4-6 s)`);
  assert.ok(claimedMs < SETTLED_WITHIN_MS, `claim answered ${claimedMs.toFixed(0)} ms after the new dial (bound ${SETTLED_WITHIN_MS} ms)`);
});
