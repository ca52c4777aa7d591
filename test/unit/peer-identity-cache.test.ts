// The verified-certificate cache of the peer guard (coordinator/trust/peer-identity-cache.ts):
// it must answer a known certificate without verifying it again, and never
// let through what identifyPeer would refuse (expired, foreign CA).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { test } from "node:test";
import { PeerIdentityCache } from "../../coordinator/trust/peer-identity-cache.ts";
import { PeerRejectedError, type PeerRejection } from "../../coordinator/trust/peer-identity.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { generateEcKeyPair, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const raw = (pem: string) => ({ raw: new X509Certificate(pem).raw });
const rejectedWith = (reason: PeerRejection) => (err: unknown) => err instanceof PeerRejectedError && err.reason === reason;

test("a certificate is verified once per object and per DER; its validity window is checked on every call", async (t) => {
  const dir = tempDir(t, "ns-peer-cache-");
  const ca = await StudioCa.open(join(dir, "studio"), { leafValidityDays: 1 });
  const pub = publicKeyToPem((await generateEcKeyPair()).publicKey);
  const pem = await ca.issueAgentCertificate("agt-00000000000000000001", pub);
  const leaf = new X509Certificate(pem);
  const cache = new PeerIdentityCache(ca.certPem);

  const conn = raw(pem);
  const now = Date.now();
  const first = cache.identify(conn, now);
  assert.equal(first.kind === "agent" && first.agentId, "agt-00000000000000000001");
  // The same connection's object, and another object with the same bytes (a fresh read per call): the cached verdict.
  assert.equal(cache.identify(conn, now + 1000), first, "same object: cached");
  assert.equal(cache.identify(raw(pem), now + 2000), first, "same DER in another object: cached");

  // Past its end, the cached certificate is refused like an unknown one, and stays refused.
  const after = new Date(leaf.validTo).getTime() + 1000;
  assert.throws(() => cache.identify(conn, after), rejectedWith("expired"));
  assert.throws(() => cache.identify(raw(pem), after), rejectedWith("expired"));
  // Before its start as well.
  assert.throws(() => cache.identify(conn, new Date(leaf.validFrom).getTime() - 1000), rejectedWith("expired"));
  // Still valid now: answered again.
  assert.equal(cache.identify(conn, now).kind, "agent");
});

test("what the studio CA did not issue, or no certificate, is refused on every call, never cached as good", async (t) => {
  const dir = tempDir(t, "ns-peer-cache-");
  const ca = await StudioCa.open(join(dir, "studio"));
  const other = await StudioCa.open(join(dir, "other"));
  const pub = publicKeyToPem((await generateEcKeyPair()).publicKey);
  const foreign = raw(await other.issueAgentCertificate("agt-00000000000000000001", pub));
  const cache = new PeerIdentityCache(ca.certPem, 2);
  for (let i = 0; i < 3; i++) assert.throws(() => cache.identify(foreign), rejectedWith("not-issued-by-studio-ca"));
  assert.throws(() => cache.identify(undefined), rejectedWith("no-certificate"));
  assert.throws(() => cache.identify({ raw: Buffer.alloc(0) }), rejectedWith("no-certificate"));
  // Bounded: more certificates than `max` still all answer (the DER map is cleared, never wrong).
  const pems = await Promise.all([1, 2, 3, 4].map((n) => ca.issueAgentCertificate(`agt-0000000000000000000${n}`, pub)));
  for (const [i, p] of pems.entries()) {
    const peer = cache.identify(raw(p));
    assert.equal(peer.kind === "agent" && peer.agentId, `agt-0000000000000000000${i + 1}`);
  }
});
