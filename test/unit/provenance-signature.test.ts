import assert from "node:assert/strict";
import { statSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openProvenanceSigner } from "../../coordinator/provenance/provenance-key.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { canonicalJson } from "../../shared/provenance/canonical-json.ts";
import { provenanceSigner, signManifest, verifyEnvelope } from "../../shared/provenance/provenance-signature.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), "ns-prov-sig-"));
  dirs.push(d);
  return d;
};
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const manifest = { format: "x", job: { id: "job_1", name: "demo" }, frame: 7, energy: { joules: 0.125, source: "rapl" }, signedAt: new Date().toISOString() };

test("canonical JSON sorts keys and drops nothing else", () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, "é"], c: { y: 0.1, x: -2 } }), '{"a":[true,null,"é"],"b":1,"c":{"x":-2,"y":0.1}}');
  assert.equal(canonicalJson(JSON.parse(JSON.stringify({ z: 1e21, y: 1 / 3 }))), canonicalJson({ y: 1 / 3, z: 1e21 }));
});

test("the provenance key lives in the data dir (0600), its certificate chains to the studio CA, and a second start reuses both", async () => {
  const dataDir = await tempDir();
  const ca = await StudioCa.open(join(dataDir, "ca"));
  const first = await openProvenanceSigner(dataDir, ca);
  const keyPath = join(dataDir, "provenance", "signing.key");
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  const second = await openProvenanceSigner(dataDir, ca);
  assert.equal(second.certPem, first.certPem);
  assert.equal(readFileSync(join(dataDir, "provenance", "signing.crt"), "utf8"), first.certPem);
  const envelope = signManifest(manifest, first);
  const text = JSON.stringify(envelope, null, 2);
  const check = verifyEnvelope(text, ca.certPem);
  assert.equal(check.ok, true, check.ok ? "" : check.reason);
});

test("a changed manifest, another CA, or an agent certificate from the same CA fail verification", async () => {
  const dataDir = await tempDir();
  const ca = await StudioCa.open(join(dataDir, "ca"));
  const signer = await openProvenanceSigner(dataDir, ca);
  const envelope = signManifest(manifest, signer);

  const tampered = { ...envelope, manifest: { ...manifest, frame: 8 } };
  const t = verifyEnvelope(JSON.stringify(tampered), ca.certPem);
  assert.equal(t.ok, false);
  assert.match(t.ok ? "" : t.reason, /manifest altered/);

  const otherCa = await StudioCa.open(join(await tempDir(), "ca"));
  const o = verifyEnvelope(JSON.stringify(envelope), otherCa.certPem);
  assert.match(o.ok ? "" : o.reason, /not issued by this studio CA/);

  // An agent holds a key and a certificate from the same CA: it must not be able to sign a frame's record.
  const keys = await generateEcKeyPair();
  const agentCert = await ca.issueAgentCertificate("agt-0123456789abcdef0123", publicKeyToPem(keys.publicKey));
  const forged = signManifest(manifest, provenanceSigner(privateKeyToPem(keys.privateKey), agentCert));
  const f = verifyEnvelope(JSON.stringify(forged), ca.certPem);
  assert.match(f.ok ? "" : f.reason, /not a provenance signing certificate/);

  assert.equal(verifyEnvelope("{not json", ca.certPem).ok, false);
});
