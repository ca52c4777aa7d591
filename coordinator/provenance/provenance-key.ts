import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { generateEcKeyPair, privateKeyToPem, publicPemOfPrivatePem } from "../../shared/tls/pem-keys.ts";
import { ensureSecretDirectory, readIfExists, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import { provenanceSigner, type ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
import type { StudioCa } from "../trust/studio-ca.ts";

/**
 * The coordinator's provenance signing key: `<data-dir>/provenance/signing.key`
 * (0600, never leaves the coordinator) and `signing.crt`, issued by the studio
 * CA with the document-signing usage only. Made on first start; a certificate
 * that no longer belongs to this CA or expires within a day is replaced (the
 * key stays), so frames signed earlier still verify with the CA certificate.
 */
export const PROVENANCE_DIR = "provenance";
const DAY_MS = 24 * 60 * 60 * 1000;

export async function openProvenanceSigner(dataDir: string, ca: StudioCa, now: () => Date = () => new Date()): Promise<ProvenanceSigner> {
  const dir = join(dataDir, PROVENANCE_DIR);
  await ensureSecretDirectory(dir);
  const keyPath = join(dir, "signing.key");
  const certPath = join(dir, "signing.crt");
  let keyPem = await readIfExists(keyPath);
  if (keyPem === undefined) {
    keyPem = privateKeyToPem((await generateEcKeyPair()).privateKey);
    await writeFileAtomic(keyPath, keyPem, 0o600);
  }
  let certPem = await readIfExists(certPath);
  if (certPem === undefined || !stillGood(certPem, keyPem, ca.certPem, now())) {
    certPem = await ca.issueProvenanceCertificate(publicPemOfPrivatePem(keyPem));
    await writeFileAtomic(certPath, certPem, 0o644);
  }
  return provenanceSigner(keyPem, certPem);
}

function stillGood(certPem: string, keyPem: string, caPem: string, now: Date): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    const samePublicKey = cert.publicKey.export({ type: "spki", format: "pem" }).toString().trim() === publicPemOfPrivatePem(keyPem).trim();
    return samePublicKey && cert.checkIssued(ca) && cert.verify(ca.publicKey) && new Date(cert.validTo).getTime() - now.getTime() > DAY_MS;
  } catch {
    return false;
  }
}
