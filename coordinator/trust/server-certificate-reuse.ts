import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIPv6 } from "node:net";
import { splitPemBundle } from "../../shared/tls/pem-keys.ts";
import { EXTENDED_KEY_USAGE_OIDS, LEAF_ORGANIZATION, type ServerCertificateProfile } from "./server-certificate-profile.ts";

/**
 * Whether the coordinator's server certificate from an earlier start may be used again, checked with node:crypto
 * alone: issuing a new one loads @peculiar/x509 (about 200 modules, 0.1-0.3 s of every restart, thirteenth round).
 *
 * THE REUSE RULE: a kept certificate is reused only when it is what `StudioCa.issueServerCertificate` would issue
 * now, its key pair, serial and dates apart:
 * - the bundle is exactly the leaf followed by this CA's certificate, and the leaf is signed by this CA (issuer name
 *   and signature), and is not itself a CA;
 * - the kept key is an EC P-256 key and is the leaf's key;
 * - subject, subject alternative names (DNS names and IPs, in order) and extended key usages are exactly those of
 *   the certificate that this start asks for;
 * - it is valid now, ends no later than a certificate issued now would (the leaf validity and the CA's end), and
 *   does not end within REISSUE_WITHIN_MS.
 * Anything else, unreadable files included, means a new certificate is issued.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
/** A kept certificate that ends within this is replaced at start. */
export const REISSUE_WITHIN_MS = 30 * DAY_MS;

export interface KeptServerCertificate {
  /** Leaf followed by the CA certificate, as issued. */
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ReuseExpectation {
  readonly caPem: string;
  readonly profile: ServerCertificateProfile;
  readonly now: Date;
  /** The notAfter of a certificate issued now: the leaf validity from now, cut at the CA's end. */
  readonly latestNotAfter: Date;
}

/** Undefined when the kept certificate may be reused; otherwise why not (for the log line). */
export function whyNotReusable(kept: KeptServerCertificate, want: ReuseExpectation): string | undefined {
  const blocks = splitPemBundle(kept.certPem);
  const leafPem = blocks[0];
  if (blocks.length !== 2 || leafPem === undefined || kept.certPem !== leafPem + want.caPem) return "not a leaf followed by this CA's certificate";
  let leaf: X509Certificate;
  let ca: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
    ca = new X509Certificate(want.caPem);
  } catch {
    return "not a certificate";
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return "not issued by this CA";
  if (leaf.ca) return "a CA certificate";
  try {
    const key = createPrivateKey(kept.keyPem);
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") return "key is not EC P-256";
    if (!leaf.checkPrivateKey(key)) return "key does not belong to the certificate";
  } catch {
    return "key is not a private key";
  }
  if (leaf.subject !== `CN=${want.profile.commonName}\nO=${LEAF_ORGANIZATION}`) return "another subject";
  if (leaf.subjectAltName !== subjectAltNameText(want.profile)) return "other names or addresses";
  if ([...(leaf.keyUsage ?? [])].sort().join(",") !== [...EXTENDED_KEY_USAGE_OIDS[want.profile.usage]].sort().join(",")) return "other key usages";
  const now = want.now.getTime();
  const notAfter = new Date(leaf.validTo).getTime();
  if (new Date(leaf.validFrom).getTime() > now) return "not valid yet";
  if (notAfter > want.latestNotAfter.getTime()) return "valid longer than a certificate issued now";
  if (notAfter - now < REISSUE_WITHIN_MS) return "expires within 30 days";
  return undefined;
}

/** The subject alternative names as node:crypto prints them: `DNS:a, DNS:b, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`. */
export function subjectAltNameText(profile: ServerCertificateProfile): string {
  return [...profile.dnsNames.map((d) => `DNS:${d}`), ...profile.ips.map((ip) => `IP Address:${isIPv6(ip) ? expandIpv6(ip) : ip}`)].join(", ");
}

/** `fe80::1` as OpenSSL prints it: eight groups, upper case, no leading zeros. An address it prints otherwise only means a re-issue. */
function expandIpv6(ip: string): string {
  const [head = "", tail] = ip.split("::");
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const middle = tail === undefined ? [] : Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0");
  return [...left, ...middle, ...right].map((g) => (g.includes(".") ? g : Number.parseInt(g, 16).toString(16).toUpperCase())).join(":");
}
