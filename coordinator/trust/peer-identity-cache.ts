import { createHash, X509Certificate } from "node:crypto";
import { verifyPeer, type PeerCertificateLike, type PeerIdentity, type VerifiedPeer } from "./peer-identity.ts";

/**
 * Who a client certificate names, verified once instead of on every gRPC
 * call: parsing the certificate and checking its signature was the largest
 * CPU cost of a call. Two keys find a verified certificate again:
 *
 * - the certificate object itself (a WeakMap): the TLS front pins one object
 *   per connection (coordinator/grpc/pin-peer-certificate.ts), so every call
 *   on a connection after its first costs one map lookup, and the entry goes
 *   when the connection does;
 * - the sha256 of its DER bytes, for listeners that hand out a fresh object
 *   per call (grpc-js's own TLS); bounded (cleared past `max` entries).
 *
 * What is cached is only what the certificate itself proves: it chains to the
 * studio CA, is a client certificate and names this agent or admin. Its
 * validity window is checked on every call, so an expired certificate is
 * refused from the second it expires. Whether the agent is still enrolled,
 * not removed, and this is still its certificate is not cached: the peer
 * guard asks the store on every call (coordinator/trust/peer-guard.ts), so a
 * removal or a re-issue takes effect at the next call of every connection.
 */
export class PeerIdentityCache {
  private readonly byObject = new WeakMap<object, VerifiedPeer>();
  private readonly byHash = new Map<string, VerifiedPeer>();
  private readonly ca: X509Certificate;

  constructor(
    caPem: string,
    private readonly max = 4096,
  ) {
    this.ca = new X509Certificate(caPem);
  }

  /** The verified identity, or a PeerRejectedError (no certificate, foreign CA, expired, not a client, unknown subject). */
  identify(certificate: PeerCertificateLike | undefined | null, now: number = Date.now()): PeerIdentity {
    if (!certificate?.raw || certificate.raw.length === 0) return verifyPeer(certificate, this.ca, new Date(now)).peer;
    let hit = this.byObject.get(certificate);
    let hash: string | undefined;
    if (hit === undefined) {
      hash = createHash("sha256").update(certificate.raw).digest("hex");
      hit = this.byHash.get(hash);
    }
    if (hit !== undefined && now >= hit.validFromMs && now <= hit.validToMs) {
      this.byObject.set(certificate, hit);
      return hit.peer;
    }
    // Not seen, or outside its validity window: verified again (and refused when it has expired).
    const verified = verifyPeer(certificate, this.ca, new Date(now));
    hash ??= createHash("sha256").update(certificate.raw).digest("hex");
    if (this.byHash.size >= this.max) this.byHash.clear();
    this.byHash.set(hash, verified);
    this.byObject.set(certificate, verified);
    return verified.peer;
  }
}
