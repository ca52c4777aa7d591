// The agent's gRPC connections dialled again (CoordinatorClient.redial) after a link cut, over real grpc-js on
// loopback with the real sink handler, a real store and real files. The link is back, but the connections open
// through it carry nothing any more and nothing closes them (the coordinator was killed during the cut and no
// reset reaches the agent, or the far end waits out its TCP retransmit backoff): without a new dial, the upload and
// the claim on them wait for the channel's keepalive to give up on the connection, 4-6 s after the cut
// (AGENT_KEEPALIVE_OPTIONS, grpc-dead-link-keepalive.test.ts). The agent dials again when its NATS link comes back
// from a silent cut (agent/nats/link-settings.ts watchStaleLinks; test nats-silent-link-relink.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { answerClaim } from "../../coordinator/grpc/agent-gateway-handler.ts";
import { startBlackholeProxy, type BlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { setupSink } from "../helpers/sink-fixture.ts";
import { queueChunk } from "../helpers/store-fixture.ts";
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

/**
 * Most time from the new dial to an upload begun on the new connection. Without the cancel of the stream that
 * waited for its ready on the old connection, the begin came 2.0 s after the dial (the old connection's next
 * keepalive ping, 2 s after it was made, ended it); with it, 0.04 s.
 */
const OPENED_WITHIN_MS = 1_000;

/** Resolves with `p`, or fails the test after `ms`: what would wait for the old connection's keepalive. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms of the new dial`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test("a claim waiting for the old connection (its connect never answered) when the agent dials again is made on the new one, not failed by the old one's close", { timeout: 60_000 }, async (t) => {
  const s = setupSink(t);
  const chunk = s.chunks[1]!;
  const dispatchId = queueChunk(s.store, chunk.id);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const proxy = await startBlackholeProxy(t, `127.0.0.1:${g.port}`);
  proxy.cut();
  const client = new CoordinatorClient(proxy.address);
  defer(t, () => client.close());
  // The unary claim waits for the connection, whose connect hangs in the cut.
  const claiming = client.unaryClaim({ agentId: s.agent.id, chunkId: chunk.id, dispatchId, delivery: 1 });
  await eventually(() => proxy.accepted === 1, "the first connection tried");
  proxy.deafen();
  proxy.restore();
  client.redial();
  const claim = await within(claiming, SETTLED_WITHIN_MS, "the claim");
  assert.equal(claim.skip, false, `taken on the new connection: ${claim.reason}`);
  assert.equal(s.store.attempts.listByChunk(chunk.id).length, 1);
});

test("an upload stream opening on a connection gone silent when the agent dials again opens on the new one", { timeout: 60_000 }, async (t) => {
  const s = setupSink(t);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const proxy = await startBlackholeProxy(t, `127.0.0.1:${g.port}`);
  const client = new CoordinatorClient(proxy.address);
  defer(t, () => client.close());
  // The connection is up (the gateway's and the sink's are one), then carries nothing: the stream's ready never comes.
  await new Promise<void>((resolve, reject) => client.sink.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
  proxy.deafen();
  const beginning = client.uploads.begin();
  await eventually(() => client.uploads.stats.opened === 1, "the stream opening");
  client.redial();
  const up = await within(beginning, OPENED_WITHIN_MS, "the upload's begin");
  assert.ok(up, "an upload on the coordinator's upload stream");
  up.cancel();
  assert.ok(client.uploads.stats.opened >= 2, "opened again, on the new connection");
});
