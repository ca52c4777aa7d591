import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { keptServerCertificate, SERVER_TLS_DIR } from "../../coordinator/trust/kept-server-certificate.ts";
import { serverCertificateProfile, type ServerCertificateRequest } from "../../coordinator/trust/server-certificate-profile.ts";
import { REISSUE_WITHIN_MS, subjectAltNameText, whyNotReusable } from "../../coordinator/trust/server-certificate-reuse.ts";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { silentLogger } from "../../shared/log.ts";

/**
 * The reuse rule of the coordinator's server certificate (coordinator/trust/server-certificate-reuse.ts): a kept
 * certificate is used again only when it is what would be issued now; anything else is re-issued.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nightshift-kept-cert-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A data dir's CA opened with a manual clock, and keptServerCertificate as a start would call it. */
async function farm(dataDir: string, at: { now: Date }, leafValidityDays = 825) {
  const ca = await StudioCa.open(join(dataDir, "ca"), { now: () => at.now, leafValidityDays });
  return { ca, start: (request: ServerCertificateRequest = {}) => keptServerCertificate(dataDir, ca, request, silentLogger()) };
}

test("a restart reuses the kept server certificate when it is what would be issued now", async (t) => {
  const dataDir = await tempDir(t);
  const at = { now: new Date("2026-12-01T00:00:00Z") };
  const first = await (await farm(dataDir, at)).start({ ips: ["10.0.0.5"] });
  at.now = new Date(at.now.getTime() + 100 * DAY_MS);
  const again = await (await farm(dataDir, at)).start({ ips: ["10.0.0.5"] });
  assert.deepEqual(again, first);
  assert.equal(await readFile(join(dataDir, SERVER_TLS_DIR, "server.crt"), "utf8"), first.certPem);
});

test("a kept certificate for other names, another CA, another usage, near its end or outliving a new one is re-issued", async (t) => {
  const dataDir = await tempDir(t);
  const at = { now: new Date("2026-12-01T00:00:00Z") };
  const { ca, start } = await farm(dataDir, at);
  const kept = await start({ ips: ["10.0.0.5"] });
  const want = (request: ServerCertificateRequest, window = ca.leafWindow(), caPem = ca.certPem) => ({ caPem, profile: serverCertificateProfile(request), ...window });
  assert.equal(whyNotReusable(kept, want({ ips: ["10.0.0.5"] })), undefined);
  assert.equal(whyNotReusable(kept, want({ ips: ["10.0.0.6"] })), "other names or addresses");
  assert.equal(whyNotReusable(kept, want({})), "other names or addresses");
  assert.equal(whyNotReusable(kept, want({ ips: ["10.0.0.5"], dnsNames: ["farm.example"] })), "other names or addresses");
  assert.equal(whyNotReusable(kept, want({ ips: ["10.0.0.5"], alsoClient: true })), "other key usages");
  const other = await StudioCa.open(join(await tempDir(t), "ca"), { now: () => at.now });
  assert.equal(whyNotReusable(kept, want({ ips: ["10.0.0.5"] }, undefined, other.certPem)), "not a leaf followed by this CA's certificate");
  // The same bundle text with another CA's certificate in place of ours: the signature check refuses it.
  const leafOnly = kept.certPem.slice(0, kept.certPem.length - ca.certPem.length);
  assert.equal(whyNotReusable({ ...kept, certPem: leafOnly + other.certPem }, want({ ips: ["10.0.0.5"] }, undefined, other.certPem)), "not issued by this CA");
  const otherKey = await start({ ips: ["10.0.0.6"] });
  assert.equal(whyNotReusable({ ...kept, keyPem: otherKey.keyPem }, want({ ips: ["10.0.0.5"] })), "key does not belong to the certificate");
  const end = new Date(new Date(ca.leafWindow().latestNotAfter).getTime());
  const nearEnd = new Date(end.getTime() - REISSUE_WITHIN_MS + DAY_MS);
  assert.equal(whyNotReusable(kept, want({ ips: ["10.0.0.5"] }, { now: nearEnd, latestNotAfter: new Date(nearEnd.getTime() + 825 * DAY_MS) })), "expires within 30 days");
  assert.equal(whyNotReusable(kept, want({ ips: ["10.0.0.5"] }, { now: at.now, latestNotAfter: new Date(at.now.getTime() + 90 * DAY_MS) })), "valid longer than a certificate issued now");
});

test("a start re-issues and keeps a new certificate when the kept one does not pass the rule", async (t) => {
  const dataDir = await tempDir(t);
  const at = { now: new Date("2026-12-01T00:00:00Z") };
  const first = await (await farm(dataDir, at)).start();
  const withIp = await (await farm(dataDir, at)).start({ ips: ["10.0.0.5"] });
  assert.notEqual(withIp.certPem, first.certPem, "another listen address: re-issued");
  at.now = new Date(at.now.getTime() + 810 * DAY_MS);
  const late = await (await farm(dataDir, at)).start({ ips: ["10.0.0.5"] });
  assert.notEqual(late.certPem, withIp.certPem, "15 days before its end: re-issued");
  assert.equal(await readFile(join(dataDir, SERVER_TLS_DIR, "server.key"), "utf8"), late.keyPem);
  const shorter = await (await farm(dataDir, at, 365)).start({ ips: ["10.0.0.5"] });
  assert.notEqual(shorter.certPem, late.certPem, "the leaf validity shortened: re-issued");
  await chmod(join(dataDir, SERVER_TLS_DIR, "server.key"), 0o644);
  const exposed = await (await farm(dataDir, at, 365)).start({ ips: ["10.0.0.5"] });
  assert.notEqual(exposed.keyPem, shorter.keyPem, "a key others could read: a new one");
  await writeFile(join(dataDir, SERVER_TLS_DIR, "server.crt"), "garbage");
  const fromGarbage = await (await farm(dataDir, at, 365)).start({ ips: ["10.0.0.5"] });
  assert.notEqual(fromGarbage.certPem, "garbage");
});

test("the names text is node:crypto's, IPv6 included", () => {
  const profile = serverCertificateProfile({ ips: ["fe80::1", "10.0.0.5", "2001:db8:0:0:1::ab"] });
  assert.equal(
    subjectAltNameText(profile),
    "DNS:coordinator.nightshift.internal, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:0:1, IP Address:10.0.0.5, IP Address:2001:DB8:0:0:1:0:0:AB",
  );
});

test("a restart with a valid kept certificate does not load @peculiar/x509; a first start does", async (t) => {
  // @peculiar/x509 is about 200 CommonJS modules: 0.1-0.3 s of every coordinator restart until the thirteenth round.
  const dataDir = await tempDir(t);
  const script = `
    import { createRequire } from "node:module";
    const { StudioCa } = await import(${JSON.stringify(join(PROJECT_ROOT, "coordinator/trust/studio-ca.ts"))});
    const { keptServerCertificate } = await import(${JSON.stringify(join(PROJECT_ROOT, "coordinator/trust/kept-server-certificate.ts"))});
    const { ensureAdminCredentials } = await import(${JSON.stringify(join(PROJECT_ROOT, "coordinator/trust/admin-credentials.ts"))});
    const { openProvenanceSigner } = await import(${JSON.stringify(join(PROJECT_ROOT, "coordinator/provenance/provenance-key.ts"))});
    const { silentLogger } = await import(${JSON.stringify(join(PROJECT_ROOT, "shared/log.ts"))});
    const dataDir = ${JSON.stringify(dataDir)};
    const ca = await StudioCa.open(dataDir + "/ca");
    await ensureAdminCredentials(dataDir, ca, silentLogger());
    await openProvenanceSigner(dataDir, ca);
    await keptServerCertificate(dataDir, ca, {}, silentLogger());
    const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes("@peculiar/x509"));
    process.stdout.write(loaded ? "loaded" : "not loaded");
  `;
  const start = () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(start(), "loaded", "the first start issues the CA and every certificate");
  assert.equal(start(), "not loaded", "a restart with everything still valid issues nothing");
});
