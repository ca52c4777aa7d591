import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { identifyPeer, PeerRejectedError, type PeerRejection } from "../../coordinator/trust/peer-identity.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { generateEcKeyPair, publicKeyToPem, splitPemBundle } from "../../shared/tls/pem-keys.ts";

const raw = (pem: string) => ({ raw: new X509Certificate(pem).raw });
const rejectedWith = (reason: PeerRejection) => (err: unknown) => err instanceof PeerRejectedError && err.reason === reason;

test("identifyPeer names agents and admins, and refuses what the studio CA did not issue for a client", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "nightshift-peer-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await StudioCa.open(join(dir, "studio"), { leafValidityDays: 1 });
  const other = await StudioCa.open(join(dir, "other"));
  const pub = publicKeyToPem((await generateEcKeyPair()).publicKey);

  const agentPem = await ca.issueAgentCertificate("gpu-1", pub);
  const agent = identifyPeer(raw(agentPem), ca.certPem);
  assert.equal(agent.kind, "agent");
  assert.equal(agent.kind === "agent" && agent.agentId, "gpu-1");
  assert.equal(agent.certFingerprint, new X509Certificate(agentPem).fingerprint256.replaceAll(":", "").toLowerCase());
  assert.equal(agent.serial, new X509Certificate(agentPem).serialNumber.toLowerCase());

  const admin = identifyPeer(raw(await ca.issueAdminCertificate("alice", pub)), new X509Certificate(ca.certPem));
  assert.deepEqual([admin.kind, admin.kind === "admin" && admin.name], ["admin", "alice"]);

  assert.throws(() => identifyPeer(undefined, ca.certPem), rejectedWith("no-certificate"));
  assert.throws(() => identifyPeer({}, ca.certPem), rejectedWith("no-certificate"));
  // Same CN, signed by another CA.
  const foreign = await other.issueAgentCertificate("gpu-1", pub);
  assert.throws(() => identifyPeer(raw(foreign), ca.certPem), rejectedWith("not-issued-by-studio-ca"));
  // The coordinator's own server certificate is not a client identity.
  const [serverLeaf] = splitPemBundle((await ca.issueServerCertificate()).certPem);
  assert.throws(() => identifyPeer(raw(serverLeaf ?? ""), ca.certPem), rejectedWith("not-a-client-certificate"));
  // Expired: the leaf was valid for one day.
  assert.throws(() => identifyPeer(raw(agentPem), ca.certPem, new Date(Date.now() + 2 * 86_400_000)), rejectedWith("expired"));
});
