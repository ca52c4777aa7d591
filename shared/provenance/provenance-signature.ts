import { createPrivateKey, sign, verify, X509Certificate, type KeyObject } from "node:crypto";
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
  const value = signText(canonicalJson(manifest), signer);
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
  const signed = checkSignature(canonicalJson(envelope.manifest), envelope.signature, caPem, at ?? signedAtOf(envelope.manifest));
  return signed.ok ? { ok: true, envelope } : { ok: false, reason: signed.reason === SIGNATURE_MISMATCH ? "signature does not match the manifest (manifest altered)" : signed.reason };
}

/** checkSignature's reason when the value does not hold over the text (the certificate is fine). */
export const SIGNATURE_MISMATCH = "signature does not match";

/**
 * Checks `signature` over `text`: its certificate (PEM, or base64 DER) chains
 * to the CA in `caPem`, carries the document-signing usage and was valid at
 * `signedAt` (when known), and its ES256 value holds over the text.
 */
export function checkSignature(text: string, signature: SignedEnvelope<unknown>["signature"], caPem: string, signedAt: Date | undefined): { ok: true } | { ok: false; reason: string } {
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    const c = signature.certificate;
    cert = new X509Certificate(c.startsWith("-----BEGIN") ? c : Buffer.from(c, "base64"));
    ca = new X509Certificate(caPem);
  } catch {
    return { ok: false, reason: "signing certificate is not a certificate" };
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return { ok: false, reason: "signing certificate was not issued by this studio CA" };
  if (!hasDocumentSigningUsage(cert)) return { ok: false, reason: "certificate is not a provenance signing certificate" };
  if (signedAt !== undefined && (signedAt < new Date(cert.validFrom) || signedAt > new Date(cert.validTo))) {
    return { ok: false, reason: `signing certificate was not valid at ${signedAt.toISOString()}` };
  }
  let good: boolean;
  try {
    good = verify("sha256", Buffer.from(text), { key: cert.publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signature.value, "base64"));
  } catch {
    good = false;
  }
  return good ? { ok: true } : { ok: false, reason: SIGNATURE_MISMATCH };
}

/** The certificate as base64 DER: the PEM's body without its armour and line breaks. */
export function certificateBase64(certPem: string): string {
  return certPem.replace(/-----[^-]+-----|\s/g, "");
}

/** ES256 signature value (base64 of IEEE P1363 r || s) over `text`. */
export function signText(text: string, signer: ProvenanceSigner): string {
  return sign("sha256", Buffer.from(text), { key: signer.key, dsaEncoding: "ieee-p1363" }).toString("base64");
}

/** The extended key usages as node:crypto reads them (Node 20 `keyUsage`, renamed `extKeyUsage` later): no @peculiar/x509 at every start. */
function hasDocumentSigningUsage(cert: X509Certificate): boolean {
  const c = cert as X509Certificate & { extKeyUsage?: string[] };
  return (c.extKeyUsage ?? c.keyUsage ?? []).includes(DOCUMENT_SIGNING_EKU);
}

export function signedAtOf(manifest: unknown): Date | undefined {
  const at = (manifest as { signedAt?: unknown } | null)?.signedAt;
  if (typeof at !== "string") return undefined;
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
