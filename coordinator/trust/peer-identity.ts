import { createHash, X509Certificate } from "node:crypto";
import { ADMIN_CN_PREFIX, isValidAgentId } from "../../shared/tls/identity-names.ts";

/**
 * Who is on the other end of an mTLS connection. gRPC handlers call
 * `identifyPeer(call.getAuthContext()?.sslPeerCertificate, ca)` and then look
 * the agent id up in the store: a removed agent still holds a certificate that
 * chains to the studio CA, so revocation is the store's answer, not TLS's.
 *
 * The chain is checked again here (signature, dates, clientAuth) so that a
 * listener accidentally configured without client verification cannot be
 * fooled by a self-made certificate with a plausible CN.
 */

export type PeerIdentity =
  | { readonly kind: "agent"; readonly agentId: string; readonly certFingerprint: string; readonly serial: string }
  | { readonly kind: "admin"; readonly name: string; readonly certFingerprint: string; readonly serial: string };

export type PeerRejection = "no-certificate" | "not-issued-by-studio-ca" | "expired" | "not-a-client-certificate" | "unknown-subject";

export class PeerRejectedError extends Error {
  override readonly name = "PeerRejectedError";
  constructor(
    readonly reason: PeerRejection,
    message: string,
  ) {
    super(message);
  }
}

const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";

/** The minimal shape of tls.PeerCertificate / grpc-js sslPeerCertificate this needs. */
export interface PeerCertificateLike {
  readonly raw?: Buffer;
}

export function identifyPeer(
  peer: PeerCertificateLike | undefined | null,
  studioCa: X509Certificate | string,
  now: Date = new Date(),
): PeerIdentity {
  return verifyPeer(peer, studioCa, now).peer;
}

/** A verified peer and the window its certificate is valid in (ms since the epoch), for caches that must honour expiry. */
export interface VerifiedPeer {
  readonly peer: PeerIdentity;
  readonly validFromMs: number;
  readonly validToMs: number;
}

/** identifyPeer, and the certificate's validity window. */
export function verifyPeer(peer: PeerCertificateLike | undefined | null, studioCa: X509Certificate | string, now: Date = new Date()): VerifiedPeer {
  if (peer?.raw === undefined || peer.raw.length === 0) {
    throw new PeerRejectedError("no-certificate", "peer presented no client certificate");
  }
  const ca = typeof studioCa === "string" ? new X509Certificate(studioCa) : studioCa;
  const leaf = new X509Certificate(peer.raw);
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) {
    throw new PeerRejectedError("not-issued-by-studio-ca", "peer certificate is not signed by the studio CA");
  }
  const validFromMs = new Date(leaf.validFrom).getTime();
  const validToMs = new Date(leaf.validTo).getTime();
  if (now.getTime() < validFromMs || now.getTime() > validToMs) {
    throw new PeerRejectedError("expired", `peer certificate is valid from ${leaf.validFrom} to ${leaf.validTo}`);
  }
  const usages = leaf.keyUsage ?? [];
  if (!usages.includes(CLIENT_AUTH_OID)) {
    throw new PeerRejectedError("not-a-client-certificate", "peer certificate lacks the clientAuth usage");
  }
  const cn = commonNameOf(leaf.subject);
  const certFingerprint = createHash("sha256").update(leaf.raw).digest("hex");
  const serial = leaf.serialNumber.toLowerCase();
  if (cn?.startsWith(ADMIN_CN_PREFIX)) {
    return { peer: { kind: "admin", name: cn.slice(ADMIN_CN_PREFIX.length), certFingerprint, serial }, validFromMs, validToMs };
  }
  if (cn !== undefined && isValidAgentId(cn)) {
    return { peer: { kind: "agent", agentId: cn, certFingerprint, serial }, validFromMs, validToMs };
  }
  throw new PeerRejectedError("unknown-subject", `peer certificate subject ${JSON.stringify(leaf.subject)} names no agent or admin`);
}

/** Node prints subjects one attribute per line: "CN=agent-1\nO=nightshift". */
function commonNameOf(subject: string): string | undefined {
  const line = subject.split("\n").find((l) => l.startsWith("CN="));
  return line?.slice(3);
}
