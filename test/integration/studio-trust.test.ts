import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { totalmem } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { status, type ServiceError } from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { HeartbeatPublisher } from "../../agent/nats/heartbeat-publisher.ts";
import { jetstream } from "@nats-io/jetstream";
import { pino, type Logger } from "pino";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { publicKeyOfSeed } from "../../shared/nats/nkey-ed25519.ts";
import { natsClientTls } from "../../shared/tls/nats-tls.ts";
import { EnrollmentRefusedError } from "../../coordinator/trust/enrollment-service.ts";
import { fetchPinnedCa } from "../../agent/trust/ca-pinning.ts";
import { EnrollmentClient } from "../../proto/gen/nightshift/v1/enrollment.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { enrollLocalAgent, type LocalCoordinator } from "../../agent/connect/enroll-local-agent.ts";
import { enrollAgent } from "../../agent/connect/enroll-agent.ts";
import { connectAgent } from "../../agent/connect/connect-agent.ts";
import { startAgent } from "../../agent/start-agent.ts";
import { reachableNatsServers } from "../../agent/connect/nats-address.ts";
import { loadOrCreateAgentKeys } from "../../agent/trust/agent-keys.ts";
import type { AgentCredentials } from "../../agent/trust/agent-credentials.ts";
import { Control } from "../../cli/control-client.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { BadInputError } from "../../shared/errors.ts";
import { agentIdForPublicKey, publicKeyFingerprint } from "../../shared/tls/agent-id.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { agentInboxPrefix, POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { decodeJson, WorkMessageSchema } from "../../shared/protocol/messages.ts";
import type { JoinRequest } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { uploadAttempt } from "../../agent/grpc/result-uploader.ts";
import { stagingDirFor } from "../../coordinator/sink/staging.ts";
import { ACCOUNTING } from "../helpers/sink-fixture.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { startTrustCoordinator } from "../helpers/trust-coordinator.ts";
import { runCli } from "../support/run-cli.ts";

// A real coordinator (embedded nats-server, mutual TLS, enrollment listener) on loopback, no mDNS.

interface Started {
  coordinator: Coordinator;
  dataDir: string;
  dir: string;
  local: LocalCoordinator;
  logs: string[];
  log: Logger;
}

async function startCoordinator(t: TestContext): Promise<Started> {
  return { ...(await startTrustCoordinator(t, "ns-studio-trust-")), log: pino({ level: "silent" }) };
}

function agentClient(t: TestContext, address: string, material: { caPem: string; certPem?: string; keyPem?: string }): CoordinatorClient {
  const channel = studioChannelCredentials(material);
  const client = new CoordinatorClient(address, channel.credentials, channel.options);
  defer(t, () => client.close());
  return client;
}

function joinRequest(agentId: string): JoinRequest {
  return { agentId, name: "test", version: "0", gpus: [], ramBytes: totalmem(), cpuCount: 2, tags: [], executors: [], kinds: [{ kind: "model", version: "1.30.0", features: [], devices: [] }], joinToken: "", healthPort: 0 };
}

/** The agent's NATS login: the user JWT from Join, proved with its seed. */
const natsAuth = (joined: { natsUserJwt: string; natsSeed: string }) => jwtAuthenticator(joined.natsUserJwt, new TextEncoder().encode(joined.natsSeed));

const withCode = (code: status) => (err: unknown) => {
  assert.equal((err as ServiceError).code, code, (err as Error).message);
  return true;
};

function logged(logs: string[], msg: string, fields: Record<string, unknown> = {}): boolean {
  return logs.some((line) => {
    const entry = JSON.parse(line) as Record<string, unknown>;
    return entry["msg"] === msg && Object.entries(fields).every(([k, v]) => entry[k] === v);
  });
}

async function enrolled(t: TestContext, s: Started, name: string): Promise<AgentCredentials> {
  const { token } = s.coordinator.trust.tokens.create({ label: name });
  const conn = await enrollLocalAgent({ coordinator: s.local, joinToken: token, dataDir: join(s.dir, name), name, log: s.log });
  assert.equal(conn.enrolledNow, true);
  return conn.credentials;
}

test("mutual TLS on the real coordinator: foreign or missing certificates fail the handshake; agents cannot use Control nor speak for another agent", async (t) => {
  const s = await startCoordinator(t);
  const address = s.coordinator.address;

  // The admin certificate written on first start opens Control.
  const admin = new Control(address, adminChannel({ dataDir: s.dataDir }));
  defer(t, () => admin.close());
  assert.deepEqual((await admin.listJobs()).jobs, []);

  // A certificate from another CA, with a well-formed agent id: refused before any handler runs.
  const other = await StudioCa.open(join(s.dir, "other-ca"));
  const keys = await generateEcKeyPair();
  const publicPem = publicKeyToPem(keys.publicKey);
  const forged = { caPem: s.coordinator.trust.ca.certPem, certPem: await other.issueAgentCertificate(agentIdForPublicKey(publicPem), publicPem), keyPem: privateKeyToPem(keys.privateKey) };
  await assert.rejects(agentClient(t, address, forged).join(joinRequest("")), withCode(status.UNAVAILABLE));
  const forgedAdmin = new Control(address, studioChannelCredentials({ ...forged, certPem: await other.issueAdminCertificate("mallory", publicPem) }));
  defer(t, () => forgedAdmin.close());
  await assert.rejects(forgedAdmin.listJobs(), withCode(status.UNAVAILABLE));
  // No client certificate at all.
  await assert.rejects(agentClient(t, address, { caPem: s.coordinator.trust.ca.certPem }).join(joinRequest("")), withCode(status.UNAVAILABLE));
  // No TLS at all.
  const plain = new Control(address);
  defer(t, () => plain.close());
  await assert.rejects(plain.listJobs(), withCode(status.UNAVAILABLE));

  // An enrolled agent joins and gets its own NATS user...
  const creds = await enrolled(t, s, "gpu-1");
  const client = agentClient(t, address, creds);
  const joined = await client.join(joinRequest(""));
  assert.equal(joined.agentId, creds.agentId, "the agent id comes from the certificate");
  assert.equal(joined.natsUser, creds.agentId);
  assert.match(joined.natsSeed, /^SU[A-Z2-7]{56}$/);
  assert.match(joined.natsUserJwt, /^[\w-]+\.[\w-]+\.[\w-]+$/, "a user JWT signed by the studio's NATS account");
  assert.equal(joined.natsPassword, "");
  // ...but it is not an admin, and it cannot act for another agent.
  const asAdmin = new Control(address, studioChannelCredentials(creds));
  defer(t, () => asAdmin.close());
  await assert.rejects(asAdmin.listJobs(), withCode(status.PERMISSION_DENIED));
  await assert.rejects(client.join(joinRequest("agt-00000000000000000000")), withCode(status.PERMISSION_DENIED));
  await assert.rejects(client.claim("agt-00000000000000000000", "chunk", "dispatch", 1), withCode(status.PERMISSION_DENIED));
  assert.ok(logged(s.logs, "agent refused: request names another agent", { agentId: creds.agentId }));
});

test("removing an agent: its running chunk goes back to the queue, gRPC and NATS refuse it at once, with a log line naming it, and it cannot enroll again", async (t) => {
  const s = await startCoordinator(t);
  const creds = await enrolled(t, s, "gpu-doomed");
  const id = creds.agentId;
  const client = agentClient(t, s.coordinator.address, creds);
  const joined = await client.join(joinRequest(""));
  const nc = await connect({
    servers: reachableNatsServers(joined.natsServers, s.coordinator.address),
    authenticator: natsAuth(joined),
    tls: natsClientTls(s.coordinator.trust.ca.certPem),
    inboxPrefix: agentInboxPrefix(id),
    reconnect: false,
  });
  defer(t, () => nc.close());

  // Pull one chunk from the pool as an agent does and claim it: an attempt is running.
  const spec = { name: "doomed", input: { type: "generated", width: 16, height: 16, frames: 8 }, steps: [{ id: "grade", kind: "model", model: "colour-grade" }], chunking: { mode: "fixed", size: 4 } };
  const { jobId } = await s.coordinator.api.submit(JSON.stringify(spec), s.dir);
  const consumer = await jetstream(nc).consumers.get(WORK_STREAM, POOL_CONSUMER);
  const m = await consumer.next({ expires: 10_000 });
  assert.ok(m, "a work message was pulled with the agent's own NATS user");
  const work = decodeJson(WorkMessageSchema, m.data);
  const claim = await client.claim(id, work.chunkId, work.dispatchId, 1);
  assert.equal(claim.skip, false, claim.reason);
  keepBusy(t, nc, id, claim.attemptId);
  assert.equal(s.coordinator.store.attempts.get(claim.attemptId)?.state, "running");

  const r = await runCli(["agents", "remove", id, "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /removed; state removed, 1 chunk\(s\) back in the queue/);

  assert.equal(s.coordinator.store.attempts.get(claim.attemptId)?.state, "lost");
  assert.ok(["pending", "queued"].includes(s.coordinator.store.chunks.get(work.chunkId)?.state ?? ""), "the chunk is back in the queue");
  assert.equal(s.coordinator.store.jobs.get(jobId)?.state, "running");
  // NATS: the live connection is closed by the account's revocation, a new one is refused.
  await eventually(() => nc.isClosed(), "the removed agent's NATS connection to close", 10_000);
  await assert.rejects(
    connect({ servers: reachableNatsServers(joined.natsServers, s.coordinator.address), authenticator: natsAuth(joined), tls: natsClientTls(s.coordinator.trust.ca.certPem), reconnect: false }),
    /Authorization/i,
  );
  await eventually(() => logged(s.logs, "nats refused a client"), "the coordinator to log the NATS refusal", 5000);
  // gRPC: the certificate still chains to the CA, the agent is refused by name.
  await assert.rejects(client.claim(id, work.chunkId, work.dispatchId, 2), withCode(status.PERMISSION_DENIED));
  assert.ok(logged(s.logs, "agent refused", { agentId: id, reason: "was removed" }));
  assert.ok(logged(s.logs, "agent removed", { agentId: id }));
  // The same key cannot come back, not even with a fresh token.
  const keys = await loadOrCreateAgentKeys(join(s.dir, "gpu-doomed"));
  const [host, port] = s.local.enrollAddress.split(":") as [string, string];
  const again = s.coordinator.trust.tokens.create().token;
  await assert.rejects(
    enrollAgent({ host, port: Number(port), pin: s.local.caFingerprint, dataDir: join(s.dir, "gpu-doomed-again"), keys, joinToken: again, name: "x", gpus: [], log: s.log }),
    (err: unknown) => err instanceof BadInputError && /was removed/.test(err.message),
  );
  const list = await runCli(["agents", "--json", "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.equal(list.status, 0, list.stderr);
  const agents = JSON.parse(list.stdout) as Array<{ id: string; state: string; gpus: unknown[]; lastSeen: string; name: string }>;
  assert.deepEqual(agents.find((a) => a.id === id)?.state, "removed");
});

test("join tokens from the CLI: a wrong, used or expired token is refused with exit 2 and a clear message; nothing is enrolled", async (t) => {
  const s = await startCoordinator(t);
  const address = s.coordinator.address;
  const create = async (...extra: string[]) => {
    const r = await runCli(["token", "create", "--coordinator", address, "--data-dir", s.dataDir, "--json", ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { token: string; caFingerprint: string; expiresAt: string | null; multiUse: boolean; enrollPort: number };
  };
  const single = await create();
  assert.match(single.token, /^nsj_[a-z2-7]{26}$/);
  assert.equal(single.caFingerprint, s.coordinator.trust.caFingerprint, "the printed fingerprint is the studio CA's");
  assert.equal(single.multiUse, false);
  assert.equal(`127.0.0.1:${single.enrollPort}`, s.local.enrollAddress);
  const human = await runCli(["token", "create", "--coordinator", address, "--data-dir", s.dataDir, "--ttl", "30m"]);
  assert.match(human.stdout, new RegExp(`ca fingerprint: ${s.coordinator.trust.caFingerprint}`));

  // The single-use token works once.
  const first = await enrollLocalAgent({ coordinator: s.local, joinToken: single.token, dataDir: join(s.dir, "first"), name: "first", log: s.log });
  assert.equal(first.enrolledNow, true);

  const agent = (token: string, name: string) =>
    runCli([
      "agent", "--coordinator", address, "--enroll", s.local.enrollAddress, "--join-token", token,
      "--ca-fingerprint", single.caFingerprint, "--data-dir", join(s.dir, name), "--name", name, "--energy-source", "estimate",
    ], { timeoutMs: 60_000 });
  const used = await agent(single.token, "second");
  assert.equal(used.status, 2, used.stderr);
  assert.match(used.stderr, /--join-token refused: join token already used/);

  const unknown = await agent(`nsj_${"a".repeat(26)}`, "third");
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.match(unknown.stderr, /--join-token refused: join token not recognised by this coordinator/);

  const malformed = await agent("let-me-in", "fourth");
  assert.equal(malformed.status, 2, malformed.stderr);
  assert.match(malformed.stderr, /join token must be "nsj_"/);

  const short = await create("--ttl", "1s");
  await sleep(1200);
  const expired = await agent(short.token, "fifth");
  assert.equal(expired.status, 2, expired.stderr);
  assert.match(expired.stderr, /--join-token refused: join token expired at /);

  const badTtl = await runCli(["token", "create", "--coordinator", address, "--data-dir", s.dataDir, "--ttl", "soon"]);
  assert.equal(badTtl.status, 2);
  assert.match(badTtl.stderr, /--ttl/);

  // Only the first agent got in; the refused ones hold a key and nothing else.
  assert.deepEqual(s.coordinator.trust.enrollments.listActive().map((e) => e.agentId), [first.credentials.agentId]);
  for (const name of ["second", "third", "fourth", "fifth"]) {
    assert.deepEqual(readdirSync(join(s.dir, name)).filter((f) => !f.startsWith(".")), ["agent.key"], `${name} stored no certificate`);
  }
  const noAdmin = await runCli(["jobs", "--coordinator", address, "--data-dir", join(s.dir, "nowhere")]);
  assert.equal(noAdmin.status, 2);
  assert.match(noAdmin.stderr, /no admin credentials/);
});

test("approval instead of a token: the agent waits as pending until `agents approve`, then enrolls; a restart reuses its credentials", async (t) => {
  const s = await startCoordinator(t);
  const dataDir = join(s.dir, "approved");
  const keys = await loadOrCreateAgentKeys(dataDir);
  const id = agentIdForPublicKey(keys.publicKeyPem);
  const [host, port] = s.local.enrollAddress.split(":") as [string, string];
  let told = "";
  const waiting = enrollAgent({
    host, port: Number(port), pin: s.local.caFingerprint.slice(0, 16), dataDir, keys, name: "approved", gpus: [{ name: "RTX test", vramBytes: 8 * 2 ** 30 }],
    log: s.log, pollMs: 100, onPending: (_id, message) => (told = message),
  });
  await eventually(() => s.coordinator.store.agents.get(id)?.state === "pending" && told !== "", "the agent to be pending and told so", 10_000);
  assert.match(told, new RegExp(`nightshift agents approve ${id}`));
  assert.ok(!existsSync(join(dataDir, "agent.crt")), "no certificate while pending");

  const list = await runCli(["agents", "--json", "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  type Listed = { id: string; state: string; gpus: Array<{ name: string; vramBytes: number }>; keyFingerprint: string; nameVerified: boolean };
  const pending = (JSON.parse(list.stdout) as Listed[]).find((a) => a.id === id);
  assert.deepEqual(pending?.gpus, [{ name: "RTX test", vramBytes: 8 * 2 ** 30 }]);
  assert.equal(pending?.state, "pending");
  // The admin sees the key's fingerprint (the agent logs the same) and that the name is only the agent's claim.
  assert.equal(pending?.keyFingerprint, publicKeyFingerprint(keys.publicKeyPem));
  assert.equal(pending?.nameVerified, false);
  const human = await runCli(["agents", "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.match(human.stdout, /"approved" \(unverified\)/);
  assert.ok(human.stdout.includes(`${id}: key sha256 ${publicKeyFingerprint(keys.publicKeyPem)}`), human.stdout);

  const approve = await runCli(["agents", "approve", id, "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.equal(approve.status, 0, approve.stderr);
  const creds = await waiting;
  assert.equal(creds.agentId, id);
  assert.ok(existsSync(join(dataDir, "agent.crt")));
  const listed = await runCli(["agents", "--json", "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.equal((JSON.parse(listed.stdout) as Listed[]).find((a) => a.id === id)?.nameVerified, true, "enrolled: the name is vouched for");
  const missing = await runCli(["agents", "approve", "agt-ffffffffffffffffffff", "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no agent 'agt-ffffffffffffffffffff'/);

  // Restart: stored credentials, no enrollment, no token needed.
  const again = await connectAgent({ dataDir, keys, name: "approved", gpus: [], coordinator: s.coordinator.address, log: s.log });
  assert.equal(again.enrolledNow, false);
  assert.equal(again.credentials.certPem, creds.certPem);
  const joined = await agentClient(t, s.coordinator.address, again.credentials).join(joinRequest(id));
  assert.equal(joined.agentId, id);
  assert.equal(s.coordinator.store.agents.get(id)?.state, "online");
});

test("a running agent that is removed loses NATS for good and is told so (the CLI then exits 1)", async (t) => {
  const s = await startCoordinator(t);
  const creds = await enrolled(t, s, "gpu-running");
  let lost = "";
  const { agent } = await startAgent({
    coordinator: s.coordinator.address,
    credentials: creds,
    onLost: (reason) => (lost = reason),
    name: "gpu-running",
    dataDir: join(s.dir, "gpu-running"),
    modelsDir: BUNDLED_MODELS_DIR,
    energySource: "estimate",
    log: s.log,
  });
  defer(t, () => agent.stop());
  assert.equal(agent.agentId, creds.agentId);
  await eventually(() => s.coordinator.store.agents.get(creds.agentId)?.state === "online", "the agent online", 5000);
  const decision = await s.coordinator.enrollment.remove(creds.agentId);
  assert.equal(decision.state, "removed");
  await eventually(() => lost !== "", "the agent to notice it was removed", 15_000, 100);
  assert.match(lost, /auth/i);
});

/** Joins as `creds` (with `gpus`) over gRPC and NATS, submits a job and pulls one of its chunks from the pool, as an agent does. */
async function pullFromPool(t: TestContext, s: Started, creds: AgentCredentials, extra: Record<string, unknown> = {}, gpus: JoinRequest["gpus"] = []) {
  const client = agentClient(t, s.coordinator.address, creds);
  const joined = await client.join({ ...joinRequest(""), gpus });
  const nc = await connect({
    servers: reachableNatsServers(joined.natsServers, s.coordinator.address),
    authenticator: natsAuth(joined),
    tls: natsClientTls(s.coordinator.trust.ca.certPem),
    inboxPrefix: agentInboxPrefix(creds.agentId),
    reconnect: false,
  });
  defer(t, () => nc.close());
  const spec = { name: "owned", input: { type: "generated", width: 16, height: 16, frames: 4 }, steps: [{ id: "grade", kind: "model", model: "colour-grade" }], chunking: { mode: "fixed", size: 4 }, ...extra };
  const { jobId } = await s.coordinator.api.submit(JSON.stringify(spec), s.dir);
  const m = await (await jetstream(nc).consumers.get(WORK_STREAM, POOL_CONSUMER)).next({ expires: 10_000 });
  assert.ok(m, "a work message was pulled");
  return { client, nc, jobId, work: decodeJson(WorkMessageSchema, m.data) };
}

/** Heartbeats as a busy agent until the test ends: under load a claim-to-assert gap can outlast the agent timeout (4 s). */
function keepBusy(t: TestContext, nc: NatsConnection, agentId: string, attemptId: string): void {
  const hb = new HeartbeatPublisher(nc, `ns.hb.${agentId}`, 500, () => ({ agentId, name: "test", status: "busy", attemptId }));
  hb.start();
  defer(t, () => hb.stop());
}

/** A running attempt of `creds`'s agent: one pool chunk of a fresh job, claimed. */
async function claimOneChunk(t: TestContext, s: Started, creds: AgentCredentials) {
  const { client, nc, jobId, work } = await pullFromPool(t, s, creds);
  const claim = await client.claim(creds.agentId, work.chunkId, work.dispatchId, 1);
  assert.equal(claim.skip, false, claim.reason);
  keepBusy(t, nc, creds.agentId, claim.attemptId);
  return { jobId, chunkId: work.chunkId, attemptId: claim.attemptId };
}

test("an upload whose header names another agent and its live attempt, over a valid agent certificate, is refused; nothing is written", async (t) => {
  const s = await startCoordinator(t);
  const victim = await enrolled(t, s, "gpu-victim");
  const thief = await enrolled(t, s, "gpu-thief");
  const owned = await claimOneChunk(t, s, victim);
  const chunk = s.coordinator.store.chunks.get(owned.chunkId)!;
  const frames = async function* () {
    for (let i = chunk.frameStart; i <= chunk.frameEnd; i++) yield { index: i, data: new Uint8Array(64).fill(i + 1), format: "png" };
  };
  const target = { ...owned, agentId: victim.agentId, frameCount: chunk.frameEnd - chunk.frameStart + 1 };
  await assert.rejects(
    uploadAttempt(agentClient(t, s.coordinator.address, thief), target, frames(), async () => ACCOUNTING, new AbortController().signal),
    withCode(status.PERMISSION_DENIED),
  );
  assert.ok(logged(s.logs, "agent refused: request names another agent", { agentId: thief.agentId }));
  assert.equal(s.coordinator.store.frames.countByJob(owned.jobId), 0, "no frame rows");
  assert.equal(s.coordinator.store.attempts.get(owned.attemptId)?.state, "running", "the victim's attempt is untouched");
  assert.equal(existsSync(stagingDirFor(s.coordinator.config.outputRoot, owned.attemptId)), false, "nothing staged");
  assert.equal(existsSync(s.coordinator.store.jobs.get(owned.jobId)!.outputDir), false, "no output written");
});

test("an agent presenting a certificate other than the one issued to it for its id is refused", async (t) => {
  const s = await startCoordinator(t);
  const creds = await enrolled(t, s, "gpu-reissued");
  // Same key, same id, signed by the studio CA: only the issued certificate's fingerprint tells it apart.
  const keys = await loadOrCreateAgentKeys(join(s.dir, "gpu-reissued"));
  const other = { ...creds, certPem: await s.coordinator.trust.ca.issueAgentCertificate(creds.agentId, keys.publicKeyPem) };
  assert.notEqual(other.certPem, creds.certPem);
  await assert.rejects(agentClient(t, s.coordinator.address, other).join(joinRequest("")), withCode(status.PERMISSION_DENIED));
  assert.ok(logged(s.logs, "agent refused", { agentId: creds.agentId, reason: "presented a certificate that is no longer valid" }));
  assert.equal((await agentClient(t, s.coordinator.address, creds).join(joinRequest(""))).agentId, creds.agentId, "the issued one still works");
});

test("claim-time eligibility: a pool chunk claimed by an agent whose card is too small is skipped and goes back to pending", async (t) => {
  const s = await startCoordinator(t);
  const creds = await enrolled(t, s, "gpu-small");
  // Submitted before any agent takes work, so the chunk goes to the shared pool, where any agent can pull it.
  const { client, jobId, work } = await pullFromPool(t, s, creds, { constraints: { minVram: "14GiB" } }, [{ name: "RTX 8G", vramBytes: 8 * 2 ** 30, uuid: "" }]);
  const claim = await client.claim(creds.agentId, work.chunkId, work.dispatchId, 1);
  assert.equal(claim.skip, true);
  assert.match(claim.reason, /^agent .*(vram|memory|GiB)/i);
  assert.deepEqual(s.coordinator.store.attempts.listByChunk(work.chunkId), [], "no attempt was started");
  // Back to pending; the dispatcher may already have queued it again, under a new dispatch id.
  const chunk = s.coordinator.store.chunks.get(work.chunkId);
  assert.ok(chunk?.state === "pending" || (chunk?.state === "queued" && chunk.dispatchId !== work.dispatchId), `chunk is ${chunk?.state}`);
  assert.equal(s.coordinator.store.jobs.get(jobId)?.state, "queued", "the job did not start");
});

test("secrets at rest: data dir 0700, store and seeds 0600; the store keeps the agent's public NATS key, never its seed", async (t) => {
  const s = await startCoordinator(t);
  const creds = await enrolled(t, s, "gpu-keys");
  const joined = await agentClient(t, s.coordinator.address, creds).join(joinRequest(""));
  const mode = (p: string) => statSync(p).mode & 0o777;
  assert.equal(mode(s.dataDir), 0o700);
  for (const f of readdirSync(s.dataDir).filter((n) => n.startsWith("nightshift.db"))) assert.equal(mode(join(s.dataDir, f)), 0o600, f);
  assert.equal(mode(join(s.dataDir, "nats-users")), 0o700);
  assert.equal(mode(join(s.dataDir, "nats-users", `${creds.agentId}.nk`)), 0o600);
  assert.equal(mode(join(s.dataDir, "nats-operator")), 0o700);
  for (const f of ["operator.nk", "account.nk", "system-account.nk"]) assert.equal(mode(join(s.dataDir, "nats-operator", f)), 0o600, f);
  const row = s.coordinator.trust.enrollments.get(creds.agentId);
  assert.equal(row?.natsNkey, publicKeyOfSeed(joined.natsSeed), "the store has the public key of the seed the agent got");
  // The seed appears nowhere in the store's files, nor in the nats-server config.
  s.coordinator.store.db.pragma("wal_checkpoint(TRUNCATE)");
  const operatorSeeds = ["operator.nk", "account.nk", "system-account.nk"].map((f) => readFileSync(join(s.dataDir, "nats-operator", f), "utf8").trim());
  for (const f of readdirSync(s.dataDir).filter((n) => n.startsWith("nightshift.db"))) {
    assert.equal(readFileSync(join(s.dataDir, f)).includes(joined.natsSeed), false, `${f} holds no seed`);
    for (const seed of operatorSeeds) assert.equal(readFileSync(join(s.dataDir, f)).includes(seed), false, `${f} holds no operator or account seed`);
  }
  const natsConfig = readdirSync(join(s.dataDir, "nats")).filter((n) => n.endsWith(".conf"));
  assert.ok(natsConfig.length > 0);
  for (const f of natsConfig) {
    const text = readFileSync(join(s.dataDir, "nats", f), "utf8");
    assert.equal(text.includes(joined.natsSeed), false);
    for (const seed of operatorSeeds) assert.equal(text.includes(seed), false, "the server config holds JWTs and public keys only");
    assert.doesNotMatch(text, /password/);
  }
  // Removal forgets the seed too.
  await s.coordinator.enrollment.remove(creds.agentId);
  assert.equal(existsSync(join(s.dataDir, "nats-users", `${creds.agentId}.nk`)), false);
});

test("NATS listens with TLS from the studio CA: a plain client or one trusting another CA is refused before it can log in", async (t) => {
  const s = await startCoordinator(t);
  const creds = await enrolled(t, s, "gpu-tls");
  const joined = await agentClient(t, s.coordinator.address, creds).join(joinRequest(""));
  const servers = reachableNatsServers(joined.natsServers, s.coordinator.address);
  const auth = natsAuth(joined);
  const nc = await connect({ servers, authenticator: auth, tls: natsClientTls(creds.caPem), reconnect: false });
  defer(t, () => nc.close());
  assert.equal(nc.info?.tls_required, true);
  // Without TLS the server will not talk (tls_required), even with a valid key.
  await assert.rejects(connect({ servers, authenticator: auth, tls: null, reconnect: false, timeout: 3000 }));
  // Trusting another CA: the server certificate does not verify.
  const other = await StudioCa.open(join(s.dir, "other-ca"));
  await assert.rejects(connect({ servers, authenticator: auth, tls: natsClientTls(other.certPem), reconnect: false, timeout: 3000 }), /certificate|self.signed|verify/i);
  // The right CA but another name than the coordinator's: refused too.
  await assert.rejects(connect({ servers, authenticator: auth, tls: natsClientTls(creds.caPem, "elsewhere.example"), reconnect: false, timeout: 3000 }), /altnames|hostname|certificate/i);
});

test("admin credentials rotate: `nightshift admin rotate` writes a new certificate that works; the old one is refused", async (t) => {
  const s = await startCoordinator(t);
  const before = new Control(s.coordinator.address, adminChannel({ dataDir: s.dataDir }));
  defer(t, () => before.close());
  assert.deepEqual((await before.listJobs()).jobs, []);
  const r = await runCli(["admin", "rotate", "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /admin credentials rotated/);
  for (const f of ["cert.pem", "key.pem", "ca.pem"]) assert.equal(statSync(join(s.dataDir, "admin", f)).mode & 0o777, 0o600, f);
  // Checked on every call: the client still holding the old certificate is refused on its open connection.
  await assert.rejects(before.listJobs(), withCode(status.PERMISSION_DENIED));
  assert.ok(logged(s.logs, "admin refused: certificate was rotated or never issued by this coordinator", { admin: "admin" }));
  const after = new Control(s.coordinator.address, adminChannel({ dataDir: s.dataDir }));
  defer(t, () => after.close());
  assert.deepEqual((await after.listJobs()).jobs, []);
  const list = await runCli(["agents", "--json", "--coordinator", s.coordinator.address, "--data-dir", s.dataDir]);
  assert.equal(list.status, 0, list.stderr);
});

test("tokenless enrollment is capped: 5 new requests a minute per address, 32 pending in all; the agent is told to wait (RESOURCE_EXHAUSTED)", async (t) => {
  const s = await startCoordinator(t);
  const ask = async (address: string) => {
    const keys = await generateEcKeyPair();
    return s.coordinator.enrollment.enroll({ publicKeyPem: publicKeyToPem(keys.publicKey), joinToken: "", name: "x".repeat(100), version: "0", gpus: [], peer: `ipv4:${address}:40000` });
  };
  const busy = (err: unknown) => err instanceof EnrollmentRefusedError && err.refusal === "busy";
  for (let i = 0; i < 5; i++) assert.equal((await ask("10.0.0.1")).status, "pending");
  await assert.rejects(ask("10.0.0.1"), busy, "the sixth request from one address in a minute");
  // Other addresses fill the rest, up to the cap of pending agents.
  for (let i = 0; i < 27; i++) assert.equal((await ask(`10.0.1.${i}`)).status, "pending");
  await assert.rejects(ask("10.0.2.1"), (err: unknown) => busy(err) && /32 agents already wait/.test((err as Error).message));
  assert.equal(s.coordinator.store.agents.list().filter((a) => a.state === "pending").length, 32);
  assert.ok(logged(s.logs, "enrollment refused", { reason: "busy" }));

  // Over the wire: the enrollment listener answers RESOURCE_EXHAUSTED with the reason.
  const [host, port] = s.local.enrollAddress.split(":") as [string, string];
  const caPem = await fetchPinnedCa({ host, port: Number(port), pin: s.local.caFingerprint });
  const channel = studioChannelCredentials({ caPem });
  const client = new EnrollmentClient(s.local.enrollAddress, channel.credentials, channel.options);
  defer(t, () => client.close());
  const keys = await generateEcKeyPair();
  const err = await new Promise<ServiceError | null>((resolve) =>
    client.enroll({ publicKeyPem: publicKeyToPem(keys.publicKey), joinToken: "", name: "late", version: "0", gpus: [] }, (e) => resolve(e)),
  );
  assert.equal(err?.code, status.RESOURCE_EXHAUSTED);
  assert.match(err?.details ?? "", /already wait for approval/);
});
