import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { NIGHTSHIFT_VERSION } from "../../shared/version.ts";

/**
 * Why this file exists: the agent's small HTTP health endpoint (GET /health,
 * JSON), on its own so that it runs with or without mDNS. Its port is
 * advertised over mDNS (agent-presence.ts) and sent in the join, and the
 * coordinator TCP-connects to it to tell a silent but live agent (the kernel
 * accepts even while the process is stopped or starved) from a dead one
 * (refused). It says nothing that the advert does not.
 */
export interface HealthEndpointOptions {
  readonly agentId: string;
  readonly name: string;
  /** Where it listens: the mDNS interface, or every interface. */
  readonly listenHost?: string;
  /** What GET /health answers besides id, name and version (enrollment, state). */
  readonly status: () => Record<string, unknown>;
}

export interface HealthEndpoint {
  readonly port: number;
  /** Closes it. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startHealthEndpoint(o: HealthEndpointOptions): Promise<HealthEndpoint> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/health") {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.stringify({ id: o.agentId, name: o.name, version: NIGHTSHIFT_VERSION, ...o.status() });
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  const port = await listen(server, o.listenHost ?? "0.0.0.0");
  let stopping: Promise<void> | undefined;
  return {
    port,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return stopping;
    },
  };
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
