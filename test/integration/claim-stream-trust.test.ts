// The trust rule on the claim stream (AgentGateway.ClaimStream) behind the
// real TLS front and the real peer guard (coordinator/trust/peer-guard.ts):
// every message of the open stream is checked as a Claim call is, so an
// agent removed while its stream is open has its very next claim refused on
// that stream, and a stream speaks only for the agent its certificate names.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { EnrollmentsTable } from "../../coordinator/store/enrollments-table.ts";
import { Store } from "../../coordinator/store/store.ts";
import { peerGuard } from "../../coordinator/trust/peer-guard.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import type { ClaimRequest, ClaimStreamAnswer } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { setupSink } from "../helpers/sink-fixture.ts";
import { queueChunk } from "../helpers/store-fixture.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

const fingerprint = (pem: string) => createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");

/** The farm's agent enrolled with a studio certificate, and the gateway behind the TLS front and the peer guard. */
async function guardedGateway(t: TestContext) {
  const s = setupSink(t, { chunks: [[0, 1], [2, 3], [4, 5], [6, 7]] });
  const enrollments = new EnrollmentsTable(s.store.db);
  const ca = await StudioCa.open(join(tempDir(t, "ns-claim-stream-trust-"), "ca"));
  const keys = await generateEcKeyPair();
  const certPem = await ca.issueAgentCertificate(s.agent.id, publicKeyToPem(keys.publicKey));
  enrollments.approve(s.agent.id, "token", 1_000);
  enrollments.recordCertificate(s.agent.id, { certPem, certFingerprint: fingerprint(certPem), natsNkey: "U", at: 1_000 });
  const log = testLog();
  const guard = peerGuard({ caPem: ca.certPem, store: s.store, enrollments, adminFingerprint: () => undefined, log, rules: { "nightshift.v1.AgentGateway": "agent" } });
  const client = studioChannelCredentials({ caPem: ca.certPem, certPem, keyPem: privateKeyToPem(keys.privateKey) });
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, {
    secure: { tls: { tls: { caPem: ca.certPem, ...(await ca.issueServerCertificate()) }, requireClientCertificate: true, log, clock: manualClock().now }, guard, client },
  });
  const dispatches = s.chunks.slice(1).map((c) => ({ chunkId: c.id, dispatchId: queueChunk(s.store, c.id) }));
  return { s, g, enrollments, dispatches };
}

/** A raw ClaimStream call: write a claim, read its answer or the stream's end. */
function rawStream(t: TestContext, call: ClientDuplexStream<ClaimRequest, ClaimStreamAnswer>) {
  defer(t, () => call.cancel());
  const answers: ClaimStreamAnswer[] = [];
  let waiting: (() => void) | undefined;
  let ended: ServiceError | undefined;
  call.on("data", (a: ClaimStreamAnswer) => (answers.push(a), waiting?.()));
  call.on("error", (err: ServiceError) => ((ended = err), waiting?.()));
  const next = async (): Promise<ClaimStreamAnswer | ServiceError> => {
    while (answers.length === 0 && ended === undefined) await new Promise<void>((r) => (waiting = r));
    return answers.shift() ?? (ended as ServiceError);
  };
  return { next, write: (req: Omit<ClaimRequest, "next" | "nextKey">) => call.write({ next: false, nextKey: "", ...req }) };
}

const isAnswer = (x: ClaimStreamAnswer | ServiceError): x is ClaimStreamAnswer => "requestId" in x;

test("an agent removed while its claim stream is open: its very next claim on that stream is refused, and nothing is taken", async (t) => {
  const { s, g, enrollments, dispatches } = await guardedGateway(t);
  const [d1, d2] = dispatches as [(typeof dispatches)[0], (typeof dispatches)[0]];
  const stream = rawStream(t, g.client.gateway.claimStream());

  stream.write({ agentId: s.agent.id, ...d1, delivery: 1, requestId: 1 });
  const first = await stream.next();
  assert.ok(isAnswer(first), `answered: ${(first as ServiceError).message}`);
  assert.equal(first.claim?.skip, false, first.claim?.reason);
  assert.equal(s.store.chunks.get(d1.chunkId)?.currentAttemptId, first.claim?.attemptId);

  enrollments.markRemoved(s.agent.id, 2_000);
  stream.write({ agentId: s.agent.id, ...d2, delivery: 1, requestId: 2 });
  const refused = await stream.next();
  assert.ok(!isAnswer(refused), "the stream ended instead of answering");
  assert.equal(refused.code, status.PERMISSION_DENIED);
  assert.match(refused.details, /was removed/);
  assert.equal(s.store.chunks.get(d2.chunkId)?.state, "queued", "the refused claim took nothing");
  await eventually(() => g.streams.size === 0, "the coordinator to forget the refused stream");

  // Through the agent's client: the stream is refused, and so is the unary call it falls back to.
  await assert.rejects(g.client.claim(s.agent.id, d2.chunkId, d2.dispatchId, 2), (err: ServiceError) => err.code === status.PERMISSION_DENIED && /was removed/.test(err.details));
  assert.equal(g.client.claims.stats.breaks, 1);
  assert.equal(s.store.chunks.get(d2.chunkId)?.state, "queued");
});

test("the CLI's removal, written with its own store connection, refuses the next claim on an open stream", async (t) => {
  const { s, g, dispatches } = await guardedGateway(t);
  const [d1, d2] = dispatches as [(typeof dispatches)[0], (typeof dispatches)[0]];
  const stream = rawStream(t, g.client.gateway.claimStream());
  stream.write({ agentId: "", ...d1, delivery: 1, requestId: 1 });
  const first = await stream.next();
  assert.ok(isAnswer(first) && first.claim?.skip === false, "an empty agent id is filled in with the certificate's");
  assert.equal(s.store.attempts.get(first.claim.attemptId)?.agentId, s.agent.id);

  const cli = Store.open(s.dbPath);
  defer(t, () => cli.close());
  cli.agents.transition(s.agent.id, "removed");
  stream.write({ agentId: s.agent.id, ...d2, delivery: 1, requestId: 2 });
  const refused = await stream.next();
  assert.ok(!isAnswer(refused) && refused.code === status.PERMISSION_DENIED, "refused on the stream");
  assert.equal(s.store.chunks.get(d2.chunkId)?.state, "queued");
});

test("a claim stream speaks only for the agent its certificate names", async (t) => {
  const { s, g, dispatches } = await guardedGateway(t);
  const [d1, d2] = dispatches as [(typeof dispatches)[0], (typeof dispatches)[0]];
  const stream = rawStream(t, g.client.gateway.claimStream());
  stream.write({ agentId: s.agent.id, ...d1, delivery: 1, requestId: 1 });
  assert.ok(isAnswer(await stream.next()));
  stream.write({ agentId: "agt-00000000000000000000", ...d2, delivery: 1, requestId: 2 });
  const refused = await stream.next();
  assert.ok(!isAnswer(refused) && refused.code === status.PERMISSION_DENIED && /may only act for itself/.test(refused.details));
  assert.equal(s.store.chunks.get(d2.chunkId)?.state, "queued");
});
