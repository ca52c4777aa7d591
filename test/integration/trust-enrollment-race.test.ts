// Many enrollments at once against a real coordinator (enrollment listener over
// gRPC with TLS, SQLite store, embedded nats-server): the store must stay
// consistent whatever the interleaving.
import { decode } from "@nats-io/jwt";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { setImmediate as tick } from "node:timers/promises";
import { EnrollmentClient, type EnrollRequest, type EnrollResponse } from "../../proto/gen/nightshift/v1/enrollment.ts";
import { fetchPinnedCa } from "../../agent/trust/ca-pinning.ts";
import { agentIdForPublicKey } from "../../shared/tls/agent-id.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { certificateFingerprint, generateEcKeyPair, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { defer } from "../helpers/defer.ts";
import { EnrollmentRefusedError } from "../../coordinator/trust/enrollment-service.ts";
import { startTrustCoordinator } from "../helpers/trust-coordinator.ts";

async function start(t: TestContext) {
  const { coordinator, dataDir, logs, local } = await startTrustCoordinator(t, "ns-enroll-race-");
  const [host, port] = local.enrollAddress.split(":") as [string, string];
  const caPem = await fetchPinnedCa({ host, port: Number(port), pin: local.caFingerprint });
  const channel = studioChannelCredentials({ caPem });
  const client = new EnrollmentClient(local.enrollAddress, channel.credentials, channel.options);
  defer(t, () => client.close());
  const enroll = (req: Partial<EnrollRequest> & { publicKeyPem: string }) =>
    new Promise<EnrollResponse>((resolve, reject) =>
      client.enroll({ joinToken: "", name: "render-01", version: "0", gpus: [], ...req }, new Metadata(), { deadline: Date.now() + 30_000 }, (err: ServiceError | null, res?: EnrollResponse) =>
        err ? reject(err) : resolve(res as EnrollResponse),
      ),
    );
  return { coordinator, dataDir, logs, enroll };
}

async function freshKey(): Promise<string> {
  return publicKeyToPem((await generateEcKeyPair()).publicKey);
}

/** How many times the coordinator issued a certificate to each agent (one "agent enrolled" line per issuance). */
function issued(logs: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of logs) {
    const e = JSON.parse(line) as { msg?: string; agentId?: string };
    if (e.msg === "agent enrolled" && e.agentId) counts.set(e.agentId, (counts.get(e.agentId) ?? 0) + 1);
  }
  return counts;
}

const code = (r: PromiseSettledResult<EnrollResponse>) => (r.status === "fulfilled" ? r.value.status : (r.reason as ServiceError).code);

test("concurrent enrollments over gRPC: one row and one certificate per agent, the pending cap counts only agents waiting for an admin, approval racing polls", async (t) => {
  const s = await start(t);
  const store = s.coordinator.store;
  const enrollments = s.coordinator.trust.enrollments;
  const { token } = s.coordinator.trust.tokens.create({ multiUse: true, label: "batch" });

  // 30 machines with the same join token and the same name, each asking three times at once (two with the token,
  // one without), all in flight together; then 10 strangers without a token from this address, at once, while
  // the machines ask again.
  const machines = await Promise.all(Array.from({ length: 30 }, freshKey));
  const strangers = await Promise.all(Array.from({ length: 10 }, freshKey));
  const firstWave = await Promise.all(machines.map((k) => Promise.allSettled([s.enroll({ publicKeyPem: k, joinToken: token }), s.enroll({ publicKeyPem: k }), s.enroll({ publicKeyPem: k, joinToken: token })])));
  const strangerCalls = Promise.allSettled(strangers.map((k) => s.enroll({ publicKeyPem: k, name: "render-01" })));
  const secondWave = await Promise.all(machines.map((k) => Promise.allSettled([s.enroll({ publicKeyPem: k })])));
  const machineAnswers = firstWave.map((answers, i) => [...answers, ...(secondWave[i] ?? [])]);
  const strangerAnswers = await strangerCalls;

  for (const [i, answers] of machineAnswers.entries()) {
    const id = agentIdForPublicKey(machines[i] as string);
    // The tokenless request may land first (pending) or after the token (enrolled); every certificate handed out is the one recorded.
    const certs = answers.flatMap((a) => (a.status === "fulfilled" && a.value.status === "enrolled" ? [a.value.certPem] : []));
    assert.ok(certs.length >= 3, `${id}: both token requests and the second wave enrolled (${answers.map(code).join(", ")})`);
    const recorded = enrollments.get(id);
    assert.ok(recorded?.certFingerprint, `${id} has a certificate`);
    for (const c of certs) assert.equal(certificateFingerprint(c), recorded.certFingerprint, `${id}: one certificate, whatever answer`);
    assert.equal(recorded.removedAt, null);
  }
  // Token-enrolled machines have not joined yet (state pending) but wait for nobody: the per-address limit,
  // not the 32-agent cap, decides the strangers. Exactly 5 get in line, the rest are told to wait.
  assert.deepEqual(strangerAnswers.map(code).sort(), [...Array(5).fill("pending"), ...Array(5).fill(status.RESOURCE_EXHAUSTED)].sort());
  const waitingIds = strangers.map((k) => agentIdForPublicKey(k)).filter((_, i) => code(strangerAnswers[i] as PromiseSettledResult<EnrollResponse>) === "pending");
  assert.equal(enrollments.countAwaitingApproval(), 5);

  // Approval racing the agents' polls: each waiting agent asks three times at once while the admin approves it.
  const polls = waitingIds.map((id, i) => {
    const key = strangers.find((k) => agentIdForPublicKey(k) === id) as string;
    const asks = [s.enroll({ publicKeyPem: key }), s.enroll({ publicKeyPem: key })];
    s.coordinator.enrollment.approve(id);
    asks.push(s.enroll({ publicKeyPem: key, name: `late-${i}` }));
    return Promise.all(asks);
  });
  for (const [i, answers] of (await Promise.all(polls)).entries()) {
    const id = waitingIds[i] as string;
    const certs = answers.filter((a) => a.status === "enrolled").map((a) => certificateFingerprint(a.certPem));
    assert.ok(certs.length >= 1, `${id} enrolled after approval`);
    assert.deepEqual(new Set(certs), new Set([enrollments.get(id)?.certFingerprint]), `${id}: one certificate`);
  }

  // The store: one row per key that got in line, no row for a refused stranger, one certificate per enrolled agent.
  const enrolledIds = [...machines.map((k) => agentIdForPublicKey(k)), ...waitingIds];
  const rows = store.agents.list();
  assert.equal(rows.length, enrolledIds.length);
  assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(enrolledIds));
  assert.equal(enrollments.listActive().length, enrolledIds.length);
  const counts = issued(s.logs);
  for (const id of enrolledIds) assert.equal(counts.get(id), 1, `${id} was issued exactly one certificate`);
  assert.equal(counts.size, enrolledIds.length);
  // Every enrolled agent is a NATS user with a key of its own: a user JWT for that key.
  const active = enrollments.listActive();
  assert.equal(new Set(active.map((e) => e.natsNkey)).size, active.length);
  for (const e of active) assert.equal(decode((await s.coordinator.trust.natsCredentials(e.agentId)).jwt).sub, e.natsNkey);
});

test("removal racing an agent's certificate: the removed agent gets no certificate and keeps no NATS seed, whichever lands first", async (t) => {
  const s = await start(t);
  const service = s.coordinator.enrollment;
  for (let round = 0; round < 6; round++) {
    const key = await freshKey();
    const id = agentIdForPublicKey(key);
    const ask = { publicKeyPem: key, joinToken: "", name: "x", version: "0", gpus: [], peer: `ipv4:10.0.9.${round}:1` };
    assert.equal((await service.enroll(ask)).status, "pending");
    service.approve(id);
    // The agent's poll starts issuing its certificate (async signing, seed file, NATS reload); the admin removes it
    // a few event-loop turns into that.
    const poll = service.enroll(ask);
    for (let i = 0; i < round; i++) await tick();
    const [answer] = await Promise.allSettled([poll, service.remove(id)]);
    if (answer.status === "rejected") assert.ok(answer.reason instanceof EnrollmentRefusedError && answer.reason.refusal === "removed", String(answer.reason));
    assert.equal(s.coordinator.store.agents.get(id)?.state, "removed");
    assert.notEqual(s.coordinator.trust.enrollments.get(id)?.removedAt, null);
    assert.ok(!existsSync(join(s.dataDir, "nats-users", `${id}.nk`)), `round ${round}: no NATS seed left for the removed agent`);
    assert.ok(!s.coordinator.trust.enrollments.listActive().some((e) => e.agentId === id));
    assert.equal(await s.coordinator.trust.natsCredentials(id).then((c) => c.seed), "");
  }
});
