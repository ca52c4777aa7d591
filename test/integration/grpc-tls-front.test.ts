// The TLS front of the gRPC port (coordinator/grpc/tls-front.ts) with real
// sockets on loopback: a real grpc-js server behind it, real TLS clients and
// raw TCP peers. Strangers use other loopback source addresses (127.0.0.2,
// 127.0.0.3) so that the agent on 127.0.0.1 shows it is not affected.
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { fetchPinnedCa, presentedCaFingerprint } from "../../agent/trust/ca-pinning.ts";
import { REFUSED, startTlsFront, type TlsFront, type TlsFrontLimits } from "../../coordinator/grpc/tls-front.ts";
import { identifyPeer } from "../../coordinator/trust/peer-identity.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { COORDINATOR_TLS_NAME } from "../../shared/tls/identity-names.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { manualClock, type ManualClock } from "../helpers/manual-clock.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const PATH = "/nightshift.test.Front/WhoAmI";
const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  whoAmI: { path: PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};

interface Harness {
  front: TlsFront;
  port: number;
  ca: StudioCa;
  clock: ManualClock;
  logs: Array<Record<string, unknown>>;
  agent: { certPem: string; keyPem: string };
  whoAmI(client: grpc.Client): Promise<string>;
}

async function harness(t: TestContext, limits: Partial<TlsFrontLimits>, requireClientCertificate = true): Promise<Harness> {
  const dir = tempDir(t, "ns-tls-front-");
  const ca = await StudioCa.open(join(dir, "ca"));
  const server = new grpc.Server();
  server.addService(service, {
    // Answers with the caller's identity as grpc-js sees it: the peer certificate must reach the handler through the front.
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const peer = identifyPeer(call.getAuthContext()?.sslPeerCertificate, ca.certPem);
      callback(null, Buffer.from(peer.kind === "agent" ? `agent:${peer.agentId}` : `admin:${peer.name}`));
    },
  });
  defer(t, () => server.forceShutdown());
  const logs: Array<Record<string, unknown>> = [];
  const clock = manualClock();
  const serverCert = await ca.issueServerCertificate();
  const front = await startTlsFront({
    host: "127.0.0.1",
    port: 0,
    tls: { caPem: ca.certPem, ...serverCert },
    requireClientCertificate,
    injector: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
    limits,
    log: pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
    clock: clock.now,
  });
  defer(t, () => front.close());
  const keys = await generateEcKeyPair();
  const agent = { certPem: await ca.issueAgentCertificate("agt-00000000000000000001", publicKeyToPem(keys.publicKey)), keyPem: privateKeyToPem(keys.privateKey) };
  return {
    front, port: front.port, ca, clock, logs, agent,
    whoAmI: (client) =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(PATH, identity, identity, Buffer.alloc(0), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res?.toString() ?? ""))),
      ),
  };
}

function agentClient(t: TestContext, h: Harness): grpc.Client {
  const channel = studioChannelCredentials({ caPem: h.ca.certPem, ...h.agent });
  const client = new grpc.Client(`127.0.0.1:${h.port}`, channel.credentials, channel.options);
  defer(t, () => client.close());
  return client;
}

const lines = (h: Harness, peer: string) => h.logs.filter((l) => l["msg"] === REFUSED && l["peer"] === peer);
const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())));

test("50 raw TCP connections that never handshake: at most the cap are held, each is closed by the deadline; an agent on another address is served throughout", async (t) => {
  const h = await harness(t, { handshakeTimeoutMs: 800, maxHandshakesPerAddress: 8 });
  const agent = agentClient(t, h);
  assert.equal(await h.whoAmI(agent), "agent:agt-00000000000000000001", "the peer certificate reaches grpc-js through the front");

  const closedAt = new Map<number, number>();
  const started = Date.now();
  const sockets = Array.from({ length: 50 }, (_, i) => {
    const s = tcpConnect({ host: "127.0.0.1", port: h.port, localAddress: "127.0.0.2" });
    s.on("error", () => undefined);
    // Half of them start a ClientHello and stall (slow drip), half send nothing.
    if (i % 2 === 0) s.on("connect", () => s.write(Buffer.from([0x16, 0x03, 0x01, 0x00])));
    s.once("close", () => closedAt.set(i, Date.now() - started));
    return s;
  });
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => (s.connecting ? s.once("connect", () => resolve()).once("close", () => resolve()) : resolve()))));
  // The agent is served while the stranger holds its connections.
  assert.equal(await h.whoAmI(agent), "agent:agt-00000000000000000001");
  const fresh = agentClient(t, h);
  assert.equal(await h.whoAmI(fresh), "agent:agt-00000000000000000001", "a new agent connection gets in during the flood");

  // The 8 are closed by the deadline (800 ms here; the default is 10 s), none held longer than the default.
  await eventually(() => closedAt.size === 50, "all 50 to be closed within the default deadline", 10_000);
  assert.ok(Math.max(...closedAt.values()) < 10_000, `all closed within the default deadline: ${Math.max(...closedAt.values())} ms`);
  assert.equal(h.front.handshaking().size, 0);
  // Capped: never more than 8 in the handshake from that address; each of the 50 was either closed at accept
  // or at the deadline (42 and 8 unless this machine took longer than the deadline to accept all 50).
  assert.ok(h.front.peakHandshaking("127.0.0.2") <= 8 && h.front.peakHandshaking("127.0.0.2") > 0);
  const stats = h.front.stats();
  assert.ok(stats.overCap > 0 && stats.timedOut >= 8, JSON.stringify(stats));
  assert.equal(stats.overCap + stats.timedOut, 50, JSON.stringify(stats));
  assert.equal(stats.handedOver, 2, "the two agent connections");
  // One line for this address in this minute (the cap's), though 50 connections were refused.
  assert.equal(lines(h, "127.0.0.2").length, 1, JSON.stringify(h.logs));
  assert.match(String(lines(h, "127.0.0.2")[0]?.["reason"]), /more than 8 connections in the TLS handshake/);
  // The next minute's line says how many the last one left unlogged: 41 more over the cap, 8 past the deadline.
  h.clock.advance(60_000);
  await closed(tcpConnect({ host: "127.0.0.1", port: h.port, localAddress: "127.0.0.2" }).on("error", () => undefined).on("connect", function (this: Socket) {
    this.end();
  }));
  await eventually(() => lines(h, "127.0.0.2").length === 2, "the next window's line", 5000);
  assert.equal(lines(h, "127.0.0.2")[1]?.["unloggedBefore"], 49, "every refusal of the last minute is counted");

  // The agent's long-lived connection outlived the deadline, and new streams on it still work.
  assert.equal(await h.whoAmI(agent), "agent:agt-00000000000000000001");
  assert.equal(lines(h, "127.0.0.1").length, 0);
});

test("a peer failing TLS 20 times is logged once per minute window, with the count it left unlogged; the agent is unaffected", async (t) => {
  const h = await harness(t, {});
  const other = await StudioCa.open(join(tempDir(t, "ns-tls-front-other-"), "ca"));
  const keys = await generateEcKeyPair();
  const foreign = { cert: await other.issueAgentCertificate("agt-00000000000000000002", publicKeyToPem(keys.publicKey)), key: privateKeyToPem(keys.privateKey) };
  const fail = async (i: number) => {
    // Alternately no client certificate and one from another CA.
    const raw = tcpConnect({ host: "127.0.0.1", port: h.port, localAddress: "127.0.0.3" });
    const s = tlsConnect({ socket: raw, ca: h.ca.certPem, servername: COORDINATOR_TLS_NAME, ALPNProtocols: ["h2"], ...(i % 2 ? foreign : {}) });
    s.on("error", () => undefined);
    await closed(s);
  };
  for (let i = 0; i < 20; i++) await fail(i);
  await eventually(() => h.front.handshaking().size === 0, "every failed handshake settled", 5000);
  const first = lines(h, "127.0.0.3");
  assert.equal(first.length, 1, JSON.stringify(first));
  assert.equal(first[0]?.["unloggedBefore"], 0);
  assert.match(String(first[0]?.["reason"]), /client certificate refused|TLS handshake failed/);
  assert.equal(h.front.stats().failed, 20);

  // A minute later: one more line, saying how many the last window did not log.
  h.clock.advance(60_000);
  for (let i = 0; i < 3; i++) await fail(i);
  const second = lines(h, "127.0.0.3");
  assert.equal(second.length, 2);
  assert.equal(second[1]?.["unloggedBefore"], 19);

  assert.equal(await h.whoAmI(agentClient(t, h)), "agent:agt-00000000000000000001");
  assert.equal(lines(h, "127.0.0.1").length, 0);
});

test("the agent's CA-pin probes (ca-pinning.ts) finish their handshake before they leave: the enrollment front hands them over and logs no refusal", async (t) => {
  const h = await harness(t, {}, false);
  const pin = await presentedCaFingerprint({ host: "127.0.0.1", port: h.port });
  await fetchPinnedCa({ host: "127.0.0.1", port: h.port, pin });
  await eventually(() => h.front.handshaking().size === 0, "both probes settled", 10_000);
  // Before the probe ended its socket (it destroyed it), each was "closed during the TLS handshake": failed, and a warning.
  assert.deepEqual(h.front.stats(), { handedOver: 2, overCap: 0, timedOut: 0, failed: 0 });
  assert.deepEqual(lines(h, "127.0.0.1"), []);
});
