import type { Logger } from "../../shared/log.ts";
import { AGENT_SERVICE_TYPE, type Advertisement, type Discovery } from "../../shared/discovery/discovery.ts";
import { encodeAgentTxt } from "../../shared/discovery/txt-records.ts";
import type { HealthEndpoint } from "./health-endpoint.ts";

const MIB = 1024 * 1024;

export interface AgentPresenceOptions {
  readonly discovery: Discovery;
  readonly agentId: string;
  readonly name: string;
  readonly gpus: ReadonlyArray<{ name: string; vramBytes: number }>;
  /** The health endpoint whose port the advert names (health-endpoint.ts); closed by stop(). */
  readonly health: HealthEndpoint;
  readonly log: Logger;
}

export interface AgentPresence {
  readonly healthPort: number;
  /** Says goodbye on mDNS and closes the health endpoint. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The agent on the LAN: an `_nshift-agent._tcp` advert naming its id, name,
 * GPUs and its health endpoint's port (GET /health, JSON), so that the
 * coordinator lists it as `discovered` before it enrolls. Being seen grants
 * nothing: enrollment decides.
 */
export function startAgentPresence(o: AgentPresenceOptions): AgentPresence {
  const port = o.health.port;
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
    void o.health.stop();
    throw err;
  }
  o.log.info({ agentId: o.agentId, healthPort: port }, "advertising on the LAN (mDNS)");
  let stopping: Promise<void> | undefined;
  return {
    healthPort: port,
    stop: () => {
      stopping ??= (async () => {
        await advert?.stop().catch(() => undefined);
        await o.health.stop();
      })();
      return stopping;
    },
  };
}
