import { isIP } from "node:net";
import { parseHostPort } from "../../shared/host-port.ts";

const LOOPBACK_OR_ANY = new Set(["127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0", "::", "[::]"]);

/**
 * The NATS URLs the coordinator hands out name the host it listens on; when
 * that is loopback or "any" (0.0.0.0) and the agent reached the coordinator
 * over the LAN, the agent dials the same host it used for gRPC instead.
 */
export function reachableNatsServers(servers: readonly string[], coordinatorAddress: string): string[] {
  const { host } = parseHostPort(coordinatorAddress, "coordinator");
  if (LOOPBACK_OR_ANY.has(host)) return [...servers];
  const hostname = isIP(host) === 6 ? `[${host}]` : host;
  return servers.map((text) => {
    let url: URL;
    try {
      url = new URL(text.includes("://") ? text : `nats://${text}`);
    } catch {
      return text;
    }
    if (!LOOPBACK_OR_ANY.has(url.hostname)) return text;
    url.hostname = hostname;
    return url.toString().replace(/\/$/, "");
  });
}
