import type { Logger } from "../../shared/log.ts";
import { AGENT_SERVICE_TYPE, type Advertisement, type Discovery } from "../../shared/discovery/discovery.ts";
import { encodeAgentTxt } from "../../shared/discovery/txt-records.ts";

const MIB = 1024 * 1024;

export interface AgentPresenceOptions {
  readonly discovery: Discovery;
  readonly agentId: string;
  readonly name: string;
  readonly gpus: ReadonlyArray<{ name: string; vramBytes: number }>;
  /** The port of the agent's health endpoint (health-endpoint.ts, owned and closed by its starter), named in the advert. */
  readonly healthPort: number;
  readonly log: Logger;
}

export interface AgentPresence {
  /** Says goodbye on mDNS. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The agent on the LAN: an `_nshift-agent._tcp` advert naming its id, name,
 * GPUs and its health endpoint's port (GET /health, JSON), so that the
 * coordinator lists it as `discovered` before it enrolls. Being seen grants
 * nothing: enrollment decides.
 */
export function startAgentPresence(o: AgentPresenceOptions): AgentPresence {
  const port = o.healthPort;
  const name = `nightshift-agent-${o.agentId}`;
  const advert: Advertisement = o.discovery.advertise({
    name,
    type: AGENT_SERVICE_TYPE,
    port,
    host: `${name}.local`,
    txt: encodeAgentTxt({ id: o.agentId, name: o.name, port, gpus: o.gpus.map((g) => ({ name: g.name, vramMiB: g.vramBytes / MIB })) }),
  });
  o.log.info({ agentId: o.agentId, healthPort: port }, "advertising on the LAN (mDNS)");
  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= advert.stop().catch(() => undefined);
      return stopping;
    },
  };
}
