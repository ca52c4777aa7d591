import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StudioCa, StudioCaError } from "../../coordinator/trust/studio-ca.ts";
import { BadInputError } from "../../shared/errors.ts";
import { COORDINATOR_TLS_NAME } from "../../shared/tls/identity-names.ts";
import { generateEcKeyPair, publicKeyToPem, splitPemBundle } from "../../shared/tls/pem-keys.ts";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nightshift-ca-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("first open creates ca.key (0600) and ca.crt; the fingerprint is sha256 of the DER", async (t) => {
  const dir = join(await tempDir(t), "ca");
  const ca = await StudioCa.open(dir);
  assert.equal((await stat(join(dir, "ca.key"))).mode & 0o777, 0o600);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const cert = new X509Certificate(await readFile(join(dir, "ca.crt"), "utf8"));
  assert.equal(cert.ca, true);
  assert.equal(ca.fingerprint, cert.fingerprint256.replaceAll(":", "").toLowerCase());
  assert.match(ca.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(ca.certPem, await readFile(join(dir, "ca.crt"), "utf8"));
});

test("later opens load the same CA and never rewrite it", async (t) => {
  const dir = await tempDir(t);
  const first = await StudioCa.open(dir);
  const keyBefore = await readFile(join(dir, "ca.key"), "utf8");
  const second = await StudioCa.open(dir);
  assert.equal(second.fingerprint, first.fingerprint);
  assert.equal(await readFile(join(dir, "ca.key"), "utf8"), keyBefore);
  // A certificate issued after reload chains to the CA created the first time.
  const issued = await second.issueAgentCertificate("a1", publicKeyToPem((await generateEcKeyPair()).publicKey));
  assert.ok(new X509Certificate(issued).verify(new X509Certificate(first.certPem).publicKey));
});

test("corrupt or half-present CA files fail with StudioCaError naming the file, and nothing is regenerated", async (t) => {
  const dir = await tempDir(t);
  const original = await StudioCa.open(dir);
  const keyPath = join(dir, "ca.key");
  const certPath = join(dir, "ca.crt");
  const keyPem = await readFile(keyPath, "utf8");
  const certPem = await readFile(certPath, "utf8");

  await writeFile(certPath, "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
  await assert.rejects(StudioCa.open(dir), (err: unknown) => err instanceof StudioCaError && err.file === certPath);
  assert.equal(await readFile(keyPath, "utf8"), keyPem, "the key is left alone");

  await writeFile(certPath, certPem);
  await writeFile(keyPath, "not a key");
  await assert.rejects(StudioCa.open(dir), (err: unknown) => err instanceof StudioCaError && err.file === keyPath);

  await rm(keyPath);
  await assert.rejects(StudioCa.open(dir), (err: unknown) => err instanceof StudioCaError && /ca\.key is missing/.test(err.message));
  assert.equal(await readFile(certPath, "utf8"), certPem);

  // A key from another CA next to this certificate.
  const otherDir = await tempDir(t);
  await StudioCa.open(otherDir);
  await writeFile(keyPath, await readFile(join(otherDir, "ca.key"), "utf8"));
  await assert.rejects(StudioCa.open(dir), (err: unknown) => err instanceof StudioCaError && /does not belong/.test(err.message));

  await writeFile(keyPath, keyPem);
  await rm(certPath);
  await assert.rejects(StudioCa.open(dir), (err: unknown) => err instanceof StudioCaError && err.file === certPath);
  await writeFile(certPath, certPem);
  assert.equal((await StudioCa.open(dir)).fingerprint, original.fingerprint);
});

test("an expired CA is refused on load", async (t) => {
  const dir = await tempDir(t);
  await StudioCa.open(dir, { caValidityDays: 30 });
  const later = () => new Date(Date.now() + 31 * 24 * 3600 * 1000);
  await assert.rejects(StudioCa.open(dir, { now: later }), (err: unknown) => err instanceof StudioCaError && /expired/.test(err.message));
});

test("server certificate: serverAuth, fixed name plus localhost IPs plus the given SANs, sent with the CA", async (t) => {
  const ca = await StudioCa.open(await tempDir(t));
  const issued = await ca.issueServerCertificate({ dnsNames: ["render-master"], ips: ["10.77.1.10"] });
  const [leafPem, chainPem] = splitPemBundle(issued.certPem);
  assert.ok(leafPem !== undefined && chainPem !== undefined);
  assert.equal(chainPem, ca.certPem);
  const leaf = new X509Certificate(leafPem);
  assert.ok(leaf.verify(new X509Certificate(ca.certPem).publicKey));
  assert.deepEqual(leaf.keyUsage, [SERVER_AUTH]);
  assert.equal(leaf.ca, false);
  const sans = leaf.subjectAltName ?? "";
  for (const name of [COORDINATOR_TLS_NAME, "localhost", "render-master"]) assert.ok(sans.includes(`DNS:${name}`), sans);
  for (const ip of ["127.0.0.1", "0:0:0:0:0:0:0:1", "10.77.1.10"]) assert.ok(sans.includes(`IP Address:${ip}`), sans);
  assert.ok(leaf.checkHost(COORDINATOR_TLS_NAME));
  assert.ok(leaf.checkIP("10.77.1.10"));
  // The returned key is the certificate's key.
  assert.equal(
    createPublicKey(issued.keyPem).export({ type: "spki", format: "pem" }),
    leaf.publicKey.export({ type: "spki", format: "pem" }),
  );
  await assert.rejects(ca.issueServerCertificate({ ips: ["10.77.1"] }), BadInputError);
});

test("agent and admin certificates: clientAuth, CN from the id, for exactly the key sent", async (t) => {
  const now = new Date("2030-01-01T00:00:00Z");
  const ca = await StudioCa.open(await tempDir(t), { now: () => now, leafValidityDays: 10 });
  const agentKey = await generateEcKeyPair();
  const pem = await ca.issueAgentCertificate("gpu-box-7", publicKeyToPem(agentKey.publicKey));
  const cert = new X509Certificate(pem);
  assert.equal(cert.subject.split("\n")[0], "CN=gpu-box-7");
  assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
  assert.equal(cert.publicKey.export({ type: "spki", format: "pem" }), publicKeyToPem(agentKey.publicKey));
  assert.equal(new Date(cert.validTo).getTime(), now.getTime() + 10 * 24 * 3600 * 1000);
  assert.ok(new Date(cert.validFrom) < now, "starts slightly in the past for clock skew");

  const admin = new X509Certificate(await ca.issueAdminCertificate("alice", publicKeyToPem(agentKey.publicKey)));
  assert.equal(admin.subject.split("\n")[0], "CN=admin:alice");

  await assert.rejects(ca.issueAgentCertificate("bad.id", publicKeyToPem(agentKey.publicKey)), (e: unknown) => e instanceof BadInputError && e.field === "agentId");
  await assert.rejects(ca.issueAgentCertificate("a1", "not a key"), (e: unknown) => e instanceof BadInputError && e.field === "publicKey");
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString();
  await assert.rejects(ca.issueAgentCertificate("a1", rsa), BadInputError);
});
