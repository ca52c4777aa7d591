import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadAgentCredentials, saveEnrollment } from "../../agent/trust/agent-credentials.ts";
import { AgentKeyError, loadOrCreateAgentKeys } from "../../agent/trust/agent-keys.ts";
import { assertPin, fingerprintMatches } from "../../agent/trust/ca-pinning.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { BadInputError } from "../../shared/errors.ts";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nightshift-agent-keys-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("the agent key is created once (0600) and loaded unchanged afterwards", async (t) => {
  const dir = join(await tempDir(t), "agent");
  const first = await loadOrCreateAgentKeys(dir);
  assert.equal((await stat(first.keyPath)).mode & 0o777, 0o600);
  assert.match(first.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
  assert.doesNotMatch(first.publicKeyPem, /PRIVATE/);
  const second = await loadOrCreateAgentKeys(dir);
  assert.equal(second.privateKeyPem, first.privateKeyPem);
  assert.equal(second.publicKeyPem, first.publicKeyPem);

  await writeFile(first.keyPath, "corrupt");
  await assert.rejects(loadOrCreateAgentKeys(dir), (e: unknown) => e instanceof AgentKeyError && e.file === first.keyPath);
  assert.equal(await readFile(first.keyPath, "utf8"), "corrupt", "a corrupt key is never replaced silently");
});

test("enrollment: the coordinator signs only the public key; the answer is checked against key and pin, then stored", async (t) => {
  const root = await tempDir(t);
  const ca = await StudioCa.open(join(root, "coordinator-ca"));
  const agentDir = join(root, "agent");
  const keys = await loadOrCreateAgentKeys(agentDir);
  assert.equal(await loadAgentCredentials(agentDir), undefined, "not enrolled yet");

  const certPem = await ca.issueAgentCertificate("gpu-box-1", keys.publicKeyPem);
  const saved = await saveEnrollment(agentDir, keys, { certPem, caPem: ca.certPem }, ca.fingerprint.slice(0, 16));
  assert.equal(saved.agentId, "gpu-box-1");
  assert.equal(saved.caFingerprint, ca.fingerprint);
  assert.deepEqual(await loadAgentCredentials(agentDir), saved);

  // A certificate for somebody else's key, a CA that is not the pinned one, a leaf from another CA.
  const other = await StudioCa.open(join(root, "other-ca"));
  const otherKeys = await loadOrCreateAgentKeys(join(root, "other-agent"));
  const notOurs = await ca.issueAgentCertificate("gpu-box-1", otherKeys.publicKeyPem);
  await assert.rejects(saveEnrollment(agentDir, keys, { certPem: notOurs, caPem: ca.certPem }, ca.fingerprint), /not for this agent's key/);
  const fromOther = await other.issueAgentCertificate("gpu-box-1", keys.publicKeyPem);
  await assert.rejects(saveEnrollment(agentDir, keys, { certPem: fromOther, caPem: other.certPem }, ca.fingerprint), (e: unknown) => e instanceof BadInputError && e.field === "caFingerprint");
  await assert.rejects(saveEnrollment(agentDir, keys, { certPem: fromOther, caPem: ca.certPem }, ca.fingerprint), /not signed by the studio CA/);
  assert.deepEqual(await loadAgentCredentials(agentDir), saved, "refused answers change nothing on disk");

  await rm(join(agentDir, "ca.crt"));
  await assert.rejects(loadAgentCredentials(agentDir), /ca\.crt is missing/);
});

test("pins: full or at least 16 hex digits, case and colons forgiven", () => {
  const fp = "5682b658c77a469de709bd172348a3912b6060d35b2d6d8752cd139c9b3087fd";
  assert.equal(fingerprintMatches(fp, fp), true);
  assert.equal(fingerprintMatches(fp, "56:82:B6:58:C7:7A:46:9D"), true);
  assert.equal(fingerprintMatches(fp, "5682b658c77a469"), false, "15 digits is too short to pin");
  assert.equal(fingerprintMatches(fp, "5682b658c77a469e"), false);
  assert.equal(fingerprintMatches(fp, ""), false);
  assert.throws(() => assertPin("xyz"), (e: unknown) => e instanceof BadInputError && e.field === "caFingerprint");
  assert.doesNotThrow(() => assertPin(fp.toUpperCase()));
});
