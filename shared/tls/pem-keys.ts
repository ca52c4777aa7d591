import { createHash, createPrivateKey, createPublicKey, KeyObject, webcrypto, X509Certificate } from "node:crypto";

/**
 * Key and certificate encoding shared by the coordinator and the agent.
 * Every key in the studio is ECDSA P-256; private keys are PKCS#8 PEM,
 * public keys SPKI PEM, certificates X.509 PEM.
 */

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const EC_KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
export const EC_SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;

export async function generateEcKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ["sign", "verify"]);
}

export function privateKeyToPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: "pkcs8", format: "pem" }).toString();
}

export function publicKeyToPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: "spki", format: "pem" }).toString();
}

/** Parses a PKCS#8 (or SEC1) PEM private key; throws if it is not an EC P-256 key. */
export async function privateKeyFromPem(pem: string): Promise<CryptoKey> {
  const key = createPrivateKey(pem);
  assertP256(key);
  const der = key.export({ type: "pkcs8", format: "der" });
  return webcrypto.subtle.importKey("pkcs8", der, EC_KEY_ALGORITHM, true, ["sign"]);
}

/** Parses an SPKI PEM public key; throws if it is not an EC P-256 key. */
export async function publicKeyFromPem(pem: string): Promise<CryptoKey> {
  const key = createPublicKey(pem);
  assertP256(key);
  const der = key.export({ type: "spki", format: "der" });
  return webcrypto.subtle.importKey("spki", der, EC_KEY_ALGORITHM, true, ["verify"]);
}

/** The SPKI PEM of the public half of a PEM private key. */
export function publicPemOfPrivatePem(privatePem: string): string {
  return createPublicKey(createPrivateKey(privatePem)).export({ type: "spki", format: "pem" }).toString();
}

/** sha256 of the certificate's DER encoding, lowercase hex without separators. */
export function certificateFingerprint(certPem: string): string {
  return createHash("sha256").update(new X509Certificate(certPem).raw).digest("hex");
}

/** Lowercase hex without separators; accepts "AB:CD:..." as printed by openssl. */
export function normalizeFingerprint(value: string): string {
  return value.trim().replaceAll(":", "").toLowerCase();
}

/** Every PEM block in a bundle, in order (a leaf followed by its chain, for example). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function assertP256(key: KeyObject): void {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error(`expected an EC P-256 key, got ${key.asymmetricKeyType ?? "unknown"}`);
  }
}
