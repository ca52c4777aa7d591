import { createPrivateKey, sign, verify, X509Certificate, type KeyObject } from "node:crypto";
import * as x509 from "../tls/x509.ts";
import { canonicalJson } from "./canonical-json.ts";
import { envelopeSchema, SIGNATURE_ALG, type SignedEnvelope } from "./provenance-manifest.ts";

/**
 * Signs a manifest with the coordinator's provenance key and checks a signed
 * envelope against the studio CA certificate alone. The signing certificate
 * must be issued by that CA and carry the document-signing extended key usage
 * (RFC 9336) that only the provenance certificate has: an agent's or admin's
 * certificate from the same CA cannot sign a frame's record.
 */

/** id-kp-documentSigning (RFC 9336). */
export const DOCUMENT_SIGNING_EKU = "1.3.6.1.5.5.7.3.36";

export interface ProvenanceSigner {
  readonly certPem: string;
  readonly key: KeyObject;
}

export function provenanceSigner(keyPem: string, certPem: string): ProvenanceSigner {
  return { key: createPrivateKey(keyPem), certPem };
}

export function signManifest<M>(manifest: M, signer: ProvenanceSigner): SignedEnvelope<M> {
  const value = sign("sha256", Buffer.from(canonicalJson(manifest)), { key: signer.key, dsaEncoding: "ieee-p1363" }).toString("base64");
  return { manifest, signature: { alg: SIGNATURE_ALG, value, certificate: signer.certPem } };
}

export type SignatureCheck = { ok: true; envelope: SignedEnvelope<unknown> } | { ok: false; reason: string };

/** Parses envelope text and checks its signature, its certificate chain to `caPem` and the certificate's purpose. */
export function verifyEnvelope(text: string, caPem: string, at?: Date): SignatureCheck {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: "provenance is not JSON" };
  }
  const parsed = envelopeSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `provenance envelope: ${parsed.error.issues[0]?.path.join(".") ?? ""} ${parsed.error.issues[0]?.message ?? "invalid"}` };
  const envelope = parsed.data as SignedEnvelope<unknown>;
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(envelope.signature.certificate);
    ca = new X509Certificate(caPem);
  } catch {
    return { ok: false, reason: "signing certificate is not a PEM certificate" };
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return { ok: false, reason: "signing certificate was not issued by this studio CA" };
  if (!hasDocumentSigningUsage(envelope.signature.certificate)) return { ok: false, reason: "certificate is not a provenance signing certificate" };
  const signedAt = at ?? signedAtOf(envelope.manifest);
  if (signedAt !== undefined && (signedAt < new Date(cert.validFrom) || signedAt > new Date(cert.validTo))) {
    return { ok: false, reason: `signing certificate was not valid at ${signedAt.toISOString()}` };
  }
  let good: boolean;
  try {
    good = verify("sha256", Buffer.from(canonicalJson(envelope.manifest)), { key: cert.publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(envelope.signature.value, "base64"));
  } catch {
    good = false;
  }
  return good ? { ok: true, envelope } : { ok: false, reason: "signature does not match the manifest (manifest altered)" };
}

function hasDocumentSigningUsage(certPem: string): boolean {
  try {
    const eku = new x509.X509Certificate(certPem).getExtension(x509.ExtendedKeyUsageExtension);
    return eku?.usages.map(String).includes(DOCUMENT_SIGNING_EKU) ?? false;
  } catch {
    return false;
  }
}

function signedAtOf(manifest: unknown): Date | undefined {
  const at = (manifest as { signedAt?: unknown } | null)?.signedAt;
  if (typeof at !== "string") return undefined;
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
