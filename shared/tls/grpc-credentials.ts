import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { ChannelCredentials, ServerCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { COORDINATOR_TLS_NAME } from "./identity-names.ts";

/**
 * gRPC credentials for the studio's mutual TLS. Both sides trust only the
 * studio CA (never the system roots). Clients check the server by a fixed
 * name that every coordinator certificate carries, because agents reach the
 * coordinator by whatever LAN address mDNS reported, which the certificate
 * may not list.
 */

export interface ServerTlsMaterial {
  readonly caPem: string;
  /** Leaf (and optionally its chain) PEM. */
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ClientTlsMaterial {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * Server side. With `requireClientCertificate` (the default) the TLS handshake
 * fails for a client without a certificate signed by the studio CA. Use false
 * only for the enrollment listener, where agents have no certificate yet.
 */
export function studioServerCredentials(material: ServerTlsMaterial, requireClientCertificate = true): ServerCredentials {
  return ServerCredentials.createSsl(
    Buffer.from(material.caPem),
    [{ cert_chain: Buffer.from(material.certPem), private_key: Buffer.from(material.keyPem) }],
    requireClientCertificate,
  );
}

export interface StudioChannel {
  readonly credentials: ChannelCredentials;
  /** Pass to the client constructor: the TLS name the server is checked against. */
  readonly options: ChannelOptions;
}

/**
 * Client side: presents `certPem`, trusts only `caPem`. The server must show a
 * certificate chained to the studio CA naming `serverName` (default the
 * coordinator's) or the address dialled (an IP SAN matches an IP target).
 * A client with no certificate yet (enrollment) passes `certPem`/`keyPem` as undefined.
 */
export function studioChannelCredentials(
  material: { readonly caPem: string; readonly certPem?: string; readonly keyPem?: string },
  serverName: string = COORDINATOR_TLS_NAME,
): StudioChannel {
  const key = material.keyPem === undefined ? null : Buffer.from(material.keyPem);
  const cert = material.certPem === undefined ? null : Buffer.from(material.certPem);
  const credentials = ChannelCredentials.createSsl(Buffer.from(material.caPem), key, cert, {
    checkServerIdentity: tolerantServerIdentity(serverName),
  });
  // SNI and the name check use `serverName`, never a bare IP (which Node warns about, RFC 6066).
  return { credentials, options: { "grpc.ssl_target_name_override": serverName } };
}

/**
 * Accepts a certificate (already chain-verified against the studio CA by
 * OpenSSL before Node calls this) that names either `serverName` or the host
 * that was dialled, by DNS or IP SAN.
 */
export function tolerantServerIdentity(serverName: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const byHost = checkServerIdentity(host, cert);
    if (byHost === undefined) return undefined;
    if (host !== serverName && checkServerIdentity(serverName, cert) === undefined) return undefined;
    return byHost;
  };
}
