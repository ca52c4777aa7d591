import { join } from "node:path";
import type { Logger } from "../../shared/log.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem, certificateFingerprint } from "../../shared/tls/pem-keys.ts";
import { ensureSecretDirectory, readIfExists, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { StudioCa } from "./studio-ca.ts";

/**
 * The CLI's way in: an admin client certificate (CN `admin:<name>`) that the
 * coordinator writes into `<data-dir>/admin/` on first start, every file 0600
 * in a 0700 directory. `nightshift jobs|agents|token ...` finds it through
 * --data-dir, or --admin-credentials DIR on another machine (copy the folder).
 */

export const ADMIN_DIR = "admin";
export const ADMIN_CERT_FILE = "cert.pem";
export const ADMIN_KEY_FILE = "key.pem";
export const ADMIN_CA_FILE = "ca.pem";

export const DEFAULT_ADMIN_NAME = "admin";

/** Writes admin credentials unless valid ones for this CA are there already. Returns the directory and the certificate there. */
export async function ensureAdminCredentials(
  dataDir: string,
  ca: StudioCa,
  log: Logger,
  name = DEFAULT_ADMIN_NAME,
): Promise<{ dir: string; certPem: string }> {
  const dir = join(dataDir, ADMIN_DIR);
  const existing = await readIfExists(join(dir, ADMIN_CA_FILE));
  const cert = await readIfExists(join(dir, ADMIN_CERT_FILE));
  const key = await readIfExists(join(dir, ADMIN_KEY_FILE));
  if (existing !== undefined && cert !== undefined && key !== undefined && sameCa(existing, ca.fingerprint)) return { dir, certPem: cert };
  const keys = await generateEcKeyPair();
  const certPem = await ca.issueAdminCertificate(name, publicKeyToPem(keys.publicKey));
  await writeAdminCredentials(dir, { keyPem: privateKeyToPem(keys.privateKey), certPem, caPem: ca.certPem });
  log.info({ dir }, "admin credentials written");
  return { dir, certPem };
}

/** Writes (or replaces) an admin credentials folder: key, certificate, CA, each 0600 in a 0700 folder. */
export async function writeAdminCredentials(dir: string, c: { keyPem: string; certPem: string; caPem: string }): Promise<void> {
  await ensureSecretDirectory(dir);
  await writeFileAtomic(join(dir, ADMIN_KEY_FILE), c.keyPem, 0o600);
  await writeFileAtomic(join(dir, ADMIN_CERT_FILE), c.certPem, 0o600);
  await writeFileAtomic(join(dir, ADMIN_CA_FILE), c.caPem, 0o600);
}

function sameCa(pem: string, fingerprint: string): boolean {
  try {
    return certificateFingerprint(pem) === fingerprint;
  } catch {
    return false;
  }
}
