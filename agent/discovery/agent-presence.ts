import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../shared/log.ts";
import { AGENT_SERVICE_TYPE, type Advertisement, type Discovery } from "../../shared/discovery/discovery.ts";
import { encodeAgentTxt } from "../../shared/discovery/txt-records.ts";
import { NIGHTSHIFT_VERSION } from "../../shared/version.ts";

const MIB = 1024 * 1024;

export interface AgentPresenceOptions {
  readonly discovery: Discovery;
  readonly agentId: string;
  readonly name: string;
  readonly gpus: ReadonlyArray<{ name: string; vramBytes: number }>;
  /** Where the health endpoint listens: the mDNS interface, or every interface. */
  readonly listenHost?: string;
  /** What GET /health answers besides id, name and version (enrollment, state). */
  readonly status: () => Record<string, unknown>;
  readonly log: Logger;
}

export interface AgentPresence {
  readonly healthPort: number;
  /** Says goodbye on mDNS and closes the health endpoint. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The agent on the LAN: a small HTTP health endpoint (GET /health, JSON) and
 * an `_nshift-agent._tcp` advert naming its id, name, GPUs and that port, so
 * that the coordinator lists it as `discovered` before it enrolls. Being seen
 * grants nothing: enrollment decides.
 */
export async function startAgentPresence(o: AgentPresenceOptions): Promise<AgentPresence> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/health") {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.stringify({ id: o.agentId, name: o.name, version: NIGHTSHIFT_VERSION, ...o.status() });
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  const port = await listen(server, o.listenHost ?? "0.0.0.0");
  const name = `nightshift-agent-${o.agentId}`;
  let advert: Advertisement | undefined;
  try {
    advert = o.discovery.advertise({
      name,
      type: AGENT_SERVICE_TYPE,
      port,
      host: `${name}.local`,
      txt: encodeAgentTxt({ id: o.agentId, name: o.name, port, gpus: o.gpus.map((g) => ({ name: g.name, vramMiB: g.vramBytes / MIB })) }),
    });
  } catch (err) {
    server.close();
    throw err;
  }
  o.log.info({ agentId: o.agentId, healthPort: port }, "advertising on the LAN (mDNS)");
  let stopping: Promise<void> | undefined;
  return {
    healthPort: port,
    stop: () => {
      stopping ??= (async () => {
        await advert?.stop().catch(() => undefined);
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
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
