import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CaPinMismatchError, fetchPinnedCa } from "../../agent/trust/ca-pinning.ts";
import { identifyPeer, PeerRejectedError } from "../../coordinator/trust/peer-identity.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { studioChannelCredentials, studioServerCredentials } from "../../shared/tls/grpc-credentials.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";

// Real grpc-js servers and clients over loopback TLS; no service proto needed.

const PATH = "/nightshift.test.Trust/WhoAmI";
const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  whoAmI: {
    path: PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

interface Harness {
  ca: StudioCa;
  other: StudioCa;
  removed: Set<string>;
  start(options: { host?: string; certPem?: string; keyPem?: string; requireClientCert?: boolean }): Promise<number>;
  call(address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions): Promise<string>;
}

async function harness(t: { after: (fn: () => Promise<void> | void) => void }): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "nightshift-mtls-"));
  const ca = await StudioCa.open(join(dir, "studio"));
  const other = await StudioCa.open(join(dir, "other"));
  const servers: grpc.Server[] = [];
  const clients: grpc.Client[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) s.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });
  const removed = new Set<string>();
  const serverCert = await ca.issueServerCertificate();
  return {
    ca,
    other,
    removed,
    async start({ host = "127.0.0.1", certPem = serverCert.certPem, keyPem = serverCert.keyPem, requireClientCert = true }) {
      const server = new grpc.Server();
      servers.push(server);
      server.addService(service, {
        whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          try {
            const peer = identifyPeer(call.getAuthContext()?.sslPeerCertificate, ca.certPem);
            if (peer.kind === "agent" && removed.has(peer.agentId)) {
              return callback({ code: grpc.status.PERMISSION_DENIED, details: `agent ${peer.agentId} was removed` });
            }
            callback(null, Buffer.from(peer.kind === "agent" ? `agent:${peer.agentId}` : `admin:${peer.name}`));
          } catch (err) {
            const reason = err instanceof PeerRejectedError ? err.reason : String(err);
            callback({ code: grpc.status.UNAUTHENTICATED, details: reason });
          }
        },
      });
      const creds = studioServerCredentials({ caPem: ca.certPem, certPem, keyPem }, requireClientCert);
      return new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host}:0`, creds, (err, port) => (err === null ? resolve(port) : reject(err))),
      );
    },
    call(address, credentials, options = {}) {
      const client = new grpc.Client(address, credentials, options);
      clients.push(client);
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(PATH, identity, identity, Buffer.alloc(0), { deadline: Date.now() + 5000 }, (err, res) =>
          err ? reject(err) : resolve(res?.toString() ?? ""),
        );
      });
    },
  };
}

async function clientMaterial(signer: StudioCa, agentId: string) {
  const keys = await generateEcKeyPair();
  return { certPem: await signer.issueAgentCertificate(agentId, publicKeyToPem(keys.publicKey)), keyPem: privateKeyToPem(keys.privateKey) };
}

const withCode = (code: grpc.status) => (err: unknown) => (err as grpc.ServiceError).code === code;

test("mTLS: a studio-signed agent is served and named; other CAs, no certificate and removed agents are refused", async (t) => {
  const h = await harness(t);
  const port = await h.start({});
  const address = `127.0.0.1:${port}`;

  const good = await clientMaterial(h.ca, "gpu-1");
  const channel = studioChannelCredentials({ caPem: h.ca.certPem, ...good });
  assert.equal(await h.call(address, channel.credentials, channel.options), "agent:gpu-1");

  // Admin CLI certificate.
  const adminKeys = await generateEcKeyPair();
  const admin = studioChannelCredentials({
    caPem: h.ca.certPem,
    certPem: await h.ca.issueAdminCertificate("alice", publicKeyToPem(adminKeys.publicKey)),
    keyPem: privateKeyToPem(adminKeys.privateKey),
  });
  assert.equal(await h.call(address, admin.credentials, admin.options), "admin:alice");

  // Same CN, signed by another CA: the TLS handshake fails, the handler never runs.
  const forged = studioChannelCredentials({ caPem: h.ca.certPem, ...(await clientMaterial(h.other, "gpu-1")) });
  await assert.rejects(h.call(address, forged.credentials, forged.options), withCode(grpc.status.UNAVAILABLE));

  // No client certificate at all.
  const anonymous = studioChannelCredentials({ caPem: h.ca.certPem });
  await assert.rejects(h.call(address, anonymous.credentials, anonymous.options), withCode(grpc.status.UNAVAILABLE));

  // Revocation is the store's answer: the certificate is still valid, the agent is not.
  h.removed.add("gpu-1");
  await assert.rejects(h.call(address, channel.credentials, channel.options), withCode(grpc.status.PERMISSION_DENIED));
});

test("clients trust only the studio CA, and an agent certificate cannot pose as the coordinator", async (t) => {
  const h = await harness(t);
  const port = await h.start({});
  const good = await clientMaterial(h.ca, "gpu-1");

  // A client that pins another CA refuses the real server.
  const wrongRoot = studioChannelCredentials({ caPem: h.other.certPem, ...good });
  await assert.rejects(h.call(`127.0.0.1:${port}`, wrongRoot.credentials, wrongRoot.options), withCode(grpc.status.UNAVAILABLE));

  // The coordinator's server certificate (serverAuth only) used as a client certificate.
  const serverCert = await h.ca.issueServerCertificate();
  const asClient = studioChannelCredentials({ caPem: h.ca.certPem, certPem: serverCert.certPem, keyPem: serverCert.keyPem });
  await assert.rejects(h.call(`127.0.0.1:${port}`, asClient.credentials, asClient.options), withCode(grpc.status.UNAVAILABLE));

  // An enrolled agent's key and certificate (clientAuth only, no server name) used as a server certificate.
  const impostorPort = await h.start({ ...(await clientMaterial(h.ca, "gpu-2")), requireClientCert: false });
  const channel = studioChannelCredentials({ caPem: h.ca.certPem, ...good });
  await assert.rejects(h.call(`127.0.0.1:${impostorPort}`, channel.credentials, channel.options), withCode(grpc.status.UNAVAILABLE));
});

test("the coordinator is checked by its fixed name, so an address missing from its certificate still works", async (t) => {
  const h = await harness(t);
  // 127.0.0.2 is loopback on Linux but not in the server certificate's SANs.
  const port = await h.start({ host: "127.0.0.2" });
  const address = `127.0.0.2:${port}`;
  const material = { caPem: h.ca.certPem, ...(await clientMaterial(h.ca, "gpu-1")) };
  const channel = studioChannelCredentials(material);
  assert.equal(await h.call(address, channel.credentials, channel.options), "agent:gpu-1");
  assert.equal(await h.call(address, channel.credentials), "agent:gpu-1", "tolerant check works without the options too");
  // Plain grpc-js credentials check the dialled IP and refuse.
  const plain = grpc.credentials.createSsl(Buffer.from(material.caPem), Buffer.from(material.keyPem), Buffer.from(material.certPem));
  await assert.rejects(h.call(address, plain), withCode(grpc.status.UNAVAILABLE));
});

test("enrollment listener: no client certificate needed; the agent pins the CA from the handshake first", async (t) => {
  const h = await harness(t);
  const port = await h.start({ requireClientCert: false });

  const caPem = await fetchPinnedCa({ host: "127.0.0.1", port, pin: h.ca.fingerprint.slice(0, 16) });
  assert.equal(caPem.trim(), h.ca.certPem.trim());
  await assert.rejects(fetchPinnedCa({ host: "127.0.0.1", port, pin: h.other.fingerprint }), CaPinMismatchError);
  await assert.rejects(fetchPinnedCa({ host: "127.0.0.1", port, pin: "00".repeat(32) }), CaPinMismatchError);

  // With the pinned CA, a certificate-less client reaches the server; the handler sees no identity.
  const enrolling = studioChannelCredentials({ caPem });
  await assert.rejects(h.call(`127.0.0.1:${port}`, enrolling.credentials, enrolling.options), (err: unknown) => {
    const e = err as grpc.ServiceError;
    return e.code === grpc.status.UNAUTHENTICATED && e.details === "no-certificate";
  });
});
