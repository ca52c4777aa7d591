import type { TlsOptions } from "@nats-io/nats-core";
import { COORDINATOR_TLS_NAME } from "./identity-names.ts";

/**
 * TLS options for a nats.js (transport-node) connection to a studio
 * nats-server: trust only the studio CA (or the cluster's CA) and check the
 * server by `serverName`, which every coordinator certificate carries, so any
 * address works, like the gRPC channel (grpc-credentials.ts). transport-node
 * hands these options to `tls.connect`, so Node's `servername` (SNI and the
 * name check) applies although nats.js's own type does not list it.
 */
export function natsClientTls(caPem: string, serverName: string = COORDINATOR_TLS_NAME): TlsOptions {
  const options: TlsOptions & { servername: string } = { ca: caPem, servername: serverName };
  return options;
}
