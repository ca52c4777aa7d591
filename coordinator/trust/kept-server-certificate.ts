import { join } from "node:path";
import type { Logger } from "../../shared/log.ts";
import { ensureSecretDirectory, isGroupOrWorldAccessible, readIfExists, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { IssuedKeyAndCert, StudioCa } from "./studio-ca.ts";
import { serverCertificateProfile, type ServerCertificateRequest } from "./server-certificate-profile.ts";
import { whyNotReusable } from "./server-certificate-reuse.ts";

/**
 * The coordinator's server certificate and key, kept in `<data-dir>/server-tls/` (0600 in a 0700 folder) so that
 * a restart uses the one from the last start when the reuse rule (server-certificate-reuse.ts) allows it, and
 * issues (and keeps) a new one otherwise. Before the thirteenth round every start issued one.
 */
export const SERVER_TLS_DIR = "server-tls";
const CERT_FILE = "server.crt";
const KEY_FILE = "server.key";

export async function keptServerCertificate(dataDir: string, ca: StudioCa, request: ServerCertificateRequest, log: Logger): Promise<IssuedKeyAndCert> {
  const dir = join(dataDir, SERVER_TLS_DIR);
  const certPath = join(dir, CERT_FILE);
  const keyPath = join(dir, KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  let why = "none kept";
  if (certPem !== undefined && keyPem !== undefined) {
    why = (await isGroupOrWorldAccessible(keyPath)) ? "key readable by group or others" : (whyNotReusable({ certPem, keyPem }, { caPem: ca.certPem, profile: serverCertificateProfile(request), ...ca.leafWindow() }) ?? "");
    if (why === "") return { certPem, keyPem };
  }
  const issued = await ca.issueServerCertificate(request);
  await ensureSecretDirectory(dir);
  await writeFileAtomic(keyPath, issued.keyPem, 0o600);
  await writeFileAtomic(certPath, issued.certPem, 0o600);
  log.info({ dir, why }, "server certificate issued");
  return issued;
}
