import { COORDINATOR_TLS_NAME } from "../../shared/tls/identity-names.ts";

/**
 * What the coordinator's server certificate holds, apart from key, serial and dates: one definition for issuing it
 * (studio-ca.ts) and for deciding whether a kept one may be used again (server-certificate-reuse.ts).
 */

/** The organisation every certificate of the studio CA names. */
export const LEAF_ORGANIZATION = "nightshift";

/** Extended key usage OIDs per kind of leaf. */
export const EXTENDED_KEY_USAGE_OIDS = {
  server: ["1.3.6.1.5.5.7.3.1"],
  client: ["1.3.6.1.5.5.7.3.2"],
  /** A NATS cluster node: a server to clients, and both ends of its TLS routes (nats-server verifies route peers both ways). */
  "server-and-client": ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
  /** RFC 9336 id-kp-documentSigning: the coordinator's provenance key, never a TLS identity. */
  "document-signing": ["1.3.6.1.5.5.7.3.36"],
} as const;

export interface ServerCertificateRequest {
  /** Extra DNS names; COORDINATOR_TLS_NAME and "localhost" are always added. */
  readonly dnsNames?: readonly string[];
  /** Extra IPs; 127.0.0.1 and ::1 are always added. */
  readonly ips?: readonly string[];
  /** Also a TLS client (a NATS cluster node, which dials its routes with the same certificate). */
  readonly alsoClient?: boolean;
}

export interface ServerCertificateProfile {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly usage: "server" | "server-and-client";
}

export function serverCertificateProfile(request: ServerCertificateRequest = {}): ServerCertificateProfile {
  return {
    commonName: COORDINATOR_TLS_NAME,
    dnsNames: unique([COORDINATOR_TLS_NAME, "localhost", ...(request.dnsNames ?? [])]),
    ips: unique(["127.0.0.1", "::1", ...(request.ips ?? [])]),
    usage: request.alsoClient === true ? "server-and-client" : "server",
  };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
