import type { TrustRevision } from "../store/trust-revision.ts";

/**
 * Why this file exists: the store's verdict on an agent (enrolled, not
 * removed, still this certificate) kept per connection, so the peer guard
 * (peer-guard.ts) reads the trust row again only when something that could
 * change it was written. Keyed by the certificate object the TLS front pins
 * to each connection (coordinator/grpc/pin-peer-certificate.ts); a listener
 * that hands out a fresh object per call simply never hits.
 *
 * Only acceptances are kept, each with the store's trust revision
 * (coordinator/store/trust-revision.ts) read before the verdict: any write
 * to the enrollments or to an agent's state, on this connection or committed
 * by another one (the CLI's store), changes the revision, so a removed agent
 * or a re-issued certificate is refused at the very next call, as before.
 * The certificate's own checks (chain, validity window) stay in
 * peer-identity-cache.ts and run on every call.
 */
export class PeerVerdictCache {
  private readonly accepted = new WeakMap<object, string>();

  constructor(private readonly revision: TrustRevision) {}

  /** The store's refusal reason for the caller, or undefined when it is let in; `read` asks the store. */
  refusal(certificate: object | undefined, read: () => string | undefined): string | undefined {
    const revision = this.revision.current();
    if (certificate !== undefined && this.accepted.get(certificate) === revision) return undefined;
    const reason = read();
    if (certificate === undefined) return reason;
    if (reason === undefined) this.accepted.set(certificate, revision);
    else this.accepted.delete(certificate);
    return reason;
  }
}
