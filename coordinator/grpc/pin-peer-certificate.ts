import type { PeerCertificate, TLSSocket } from "node:tls";

/**
 * grpc-js reads the client certificate with `socket.getPeerCertificate()` on
 * every call (getAuthContext), and Node builds a new object from the TLS
 * session each time: the peer guard's second-largest cost per call. A TLS
 * connection's peer certificate cannot change once renegotiation is off, so
 * the TLS front reads it once per connection and answers every later call
 * with the same object; the guard then finds its verdict by that object
 * (coordinator/trust/peer-identity-cache.ts). A detailed read (the issuer
 * chain) still goes to Node.
 */
export function pinPeerCertificate(socket: TLSSocket): void {
  // Without renegotiation (TLS 1.2 allows a client to start one) the certificate of the handshake is final.
  socket.disableRenegotiation();
  const read = socket.getPeerCertificate.bind(socket);
  const pinned: PeerCertificate = read(false);
  const pinnedRead = (detailed?: boolean): PeerCertificate => (detailed === true ? read(true) : pinned);
  socket.getPeerCertificate = pinnedRead as TLSSocket["getPeerCertificate"];
}
