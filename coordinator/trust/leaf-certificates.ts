import { randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "../../shared/tls/x509.ts";
import { BadInputError } from "../../shared/errors.ts";
import { EC_SIGNING_ALGORITHM, type CryptoKey } from "../../shared/tls/pem-keys.ts";
import { EXTENDED_KEY_USAGE_OIDS, LEAF_ORGANIZATION } from "./server-certificate-profile.ts";

/**
 * Builders for the certificates the studio CA signs. Pure apart from the
 * signature and the random serial; the clock comes in through `now`.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
/** Leaves start a little in the past so that a peer whose clock is behind accepts them. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;


export interface CaSigner {
  readonly cert: x509.X509Certificate;
  readonly privateKey: CryptoKey;
}

/** The signing side of the CA whose certificate is `certPem` (parsed here, so that @peculiar/x509 is imported in this module only). */
export function caSigner(certPem: string, privateKey: CryptoKey): CaSigner {
  return { cert: new x509.X509Certificate(certPem), privateKey };
}

export interface LeafRequest {
  readonly commonName: string;
  readonly publicKey: CryptoKey;
  /** "document-signing": the coordinator's provenance key (RFC 9336 id-kp-documentSigning), never a TLS identity. */
  readonly usage: "server" | "client" | "server-and-client" | "document-signing";
  /** Subject alternative names; server certificates need at least one. */
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
  readonly now: Date;
  readonly validityDays: number;
}

export async function createCaCertificate(
  keys: webcrypto.CryptoKeyPair,
  commonName: string,
  now: Date,
  validityDays: number,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: [{ CN: [commonName] }, { O: [LEAF_ORGANIZATION] }],
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(now.getTime() + validityDays * DAY_MS),
      keys,
      signingAlgorithm: EC_SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
}

export async function createLeafCertificate(ca: CaSigner, request: LeafRequest): Promise<x509.X509Certificate> {
  const sans = subjectAltNames(request);
  if ((request.usage === "server" || request.usage === "server-and-client") && sans.length === 0) {
    throw new BadInputError("a server certificate needs at least one DNS name or IP", { field: "dnsNames" });
  }
  const notAfter = Math.min(request.now.getTime() + request.validityDays * DAY_MS, ca.cert.notAfter.getTime());
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([...EXTENDED_KEY_USAGE_OIDS[request.usage]], false),
    await x509.SubjectKeyIdentifierExtension.create(request.publicKey, false, webcrypto),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false, webcrypto),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: [{ CN: [request.commonName] }, { O: [LEAF_ORGANIZATION] }],
      issuer: ca.cert.subjectName,
      notBefore: new Date(request.now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(notAfter),
      publicKey: request.publicKey,
      signingKey: ca.privateKey,
      signingAlgorithm: EC_SIGNING_ALGORITHM,
      extensions,
    },
    webcrypto,
  );
}

function subjectAltNames(request: LeafRequest): x509.JsonGeneralName[] {
  const names: x509.JsonGeneralName[] = [];
  for (const dns of request.dnsNames ?? []) {
    if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(dns)) {
      throw new BadInputError(`"${dns}" is not a DNS name`, { field: "dnsNames" });
    }
    names.push({ type: "dns", value: dns });
  }
  for (const ip of request.ips ?? []) {
    if (isIP(ip) === 0) throw new BadInputError(`"${ip}" is not an IP address`, { field: "ips" });
    names.push({ type: "ip", value: ip });
  }
  return names;
}

/** 128 random bits, positive and without a leading zero byte (RFC 5280 4.1.2.2). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString("hex");
}
