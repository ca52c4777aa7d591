// The peer guard's caches (coordinator/trust/peer-identity-cache.ts and the
// TLS front's pinned certificate, coordinator/grpc/pin-peer-certificate.ts)
// with a real grpc-js server behind the real TLS front on loopback and a
// real store: the certificate is read once per connection, and yet removing
// an agent or re-issuing its certificate, on the coordinator's connection or
// from the CLI's own store, refuses the very next call on a connection that
// was let in before.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { startTlsFront } from "../../coordinator/grpc/tls-front.ts";
import { EnrollmentsTable } from "../../coordinator/store/enrollments-table.ts";
import { Store } from "../../coordinator/store/store.ts";
import { peerGuard } from "../../coordinator/trust/peer-guard.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { defer } from "../helpers/defer.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, openTempStore } from "../helpers/store-fixture.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

const PATH = "/nightshift.test.Guarded/WhoAmI";
const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  whoAmI: { path: PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};
const fingerprint = (pem: string) => createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");

async function guardedServer(t: TestContext) {
  const { store, dbPath } = openTempStore(t);
  const enrollments = new EnrollmentsTable(store.db);
  const ca = await StudioCa.open(join(tempDir(t, "ns-guard-cache-"), "ca"));
  const certificates: unknown[] = [];
  const server = new grpc.Server({
    interceptors: [
      peerGuard({ caPem: ca.certPem, store, enrollments, adminFingerprint: () => undefined, log: testLog(), rules: { "nightshift.test.Guarded": "agent" } }),
    ],
  });
  server.addService(service, {
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      certificates.push(call.getAuthContext()?.sslPeerCertificate);
      callback(null, Buffer.from("ok"));
    },
  });
  defer(t, () => server.forceShutdown());
  const front = await startTlsFront({
    host: "127.0.0.1",
    port: 0,
    tls: { caPem: ca.certPem, ...(await ca.issueServerCertificate()) },
    requireClientCertificate: true,
    injector: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
    log: testLog(),
    clock: manualClock().now,
  });
  defer(t, () => front.close());

  const enroll = async (agentId: string) => {
    const keys = await generateEcKeyPair();
    const certPem = await ca.issueAgentCertificate(agentId, publicKeyToPem(keys.publicKey));
    insertAgent(store, { id: agentId });
    enrollments.approve(agentId, "token", 1_000);
    enrollments.recordCertificate(agentId, { certPem, certFingerprint: fingerprint(certPem), natsNkey: "U", at: 1_000 });
    const channel = studioChannelCredentials({ caPem: ca.certPem, certPem, keyPem: privateKeyToPem(keys.privateKey) });
    const client = new grpc.Client(`127.0.0.1:${front.port}`, channel.credentials, channel.options);
    defer(t, () => client.close());
    const call = () =>
      new Promise<string>((resolve, reject) =>
        client.makeUnaryRequest(PATH, identity, identity, Buffer.alloc(0), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res?.toString() ?? ""))),
      );
    return { call, certPem, publicKeyPem: publicKeyToPem(keys.publicKey) };
  };
  return { store, dbPath, enrollments, ca, front, certificates, enroll };
}

const deniedWith = (pattern: RegExp) => (err: unknown) => {
  const e = err as grpc.ServiceError;
  return e.code === grpc.status.PERMISSION_DENIED && pattern.test(e.details);
};

test("one certificate read per connection; a removed agent's next call on the same connection is refused", async (t) => {
  const s = await guardedServer(t);
  const agent = await s.enroll("agt-00000000000000000001");
  for (let i = 0; i < 3; i++) assert.equal(await agent.call(), "ok");
  // grpc-js handed the handler the same certificate object on every call: it was read once, at the handshake.
  assert.equal(s.certificates.length, 3);
  assert.ok(s.certificates[0] !== undefined && s.certificates.every((c) => c === s.certificates[0]), "one pinned certificate per connection");
  assert.equal(s.front.stats().handedOver, 1, "all three calls on one connection");

  s.enrollments.markRemoved("agt-00000000000000000001", 2_000);
  await assert.rejects(agent.call(), deniedWith(/was removed/), "the cached identity does not outlive the removal");
  await assert.rejects(agent.call(), deniedWith(/was removed/));
  assert.equal(s.certificates.length, 3, "no handler ran for the removed agent");
});

test("an agent whose row says removed, or whose certificate was re-issued, is refused on a connection let in before", async (t) => {
  const s = await guardedServer(t);
  const a = await s.enroll("agt-00000000000000000002");
  const b = await s.enroll("agt-00000000000000000003");
  assert.equal(await a.call(), "ok");
  assert.equal(await b.call(), "ok");

  // Removed in the agents table only (the state the registry writes).
  s.store.agents.transition("agt-00000000000000000002", "removed");
  await assert.rejects(a.call(), deniedWith(/was removed/));

  // A new certificate for b: the old one, still cached for b's open connection, is no longer accepted.
  const reissued = await s.ca.issueAgentCertificate("agt-00000000000000000003", b.publicKeyPem);
  s.enrollments.recordCertificate("agt-00000000000000000003", { certPem: reissued, certFingerprint: fingerprint(reissued), natsNkey: "U", at: 3_000 });
  await assert.rejects(b.call(), deniedWith(/no longer valid/));
});

test("the CLI's removal, written with its own connection to the store, refuses the next call of a connection let in before", async (t) => {
  const s = await guardedServer(t);
  const a = await s.enroll("agt-00000000000000000004");
  const b = await s.enroll("agt-00000000000000000005");
  for (let i = 0; i < 3; i++) assert.equal(await a.call(), "ok");
  assert.equal(await b.call(), "ok");
  const cli = Store.open(s.dbPath);
  defer(t, () => cli.close());
  new EnrollmentsTable(cli.db).markRemoved("agt-00000000000000000004", 6_000);
  await assert.rejects(a.call(), deniedWith(/was removed/), "the very next call after the CLI's commit");
  assert.equal(await b.call(), "ok", "another agent is still let in");
  cli.agents.transition("agt-00000000000000000005", "removed");
  await assert.rejects(b.call(), deniedWith(/was removed/));
});
