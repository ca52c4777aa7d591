import type { Logger } from "../../shared/log.ts";
import { BonjourDiscovery } from "../../shared/discovery/bonjour-discovery.ts";
import { agentIdForPublicKey } from "../../shared/tls/agent-id.ts";
import { probeInventory } from "../probe/gpu-inventory.ts";
import { loadOrCreateAgentKeys } from "../trust/agent-keys.ts";
import { startAgentPresence, type AgentPresence } from "../discovery/agent-presence.ts";
import { startHealthEndpoint, type HealthEndpoint } from "../discovery/health-endpoint.ts";
import { connectAgent, type AgentConnection } from "./connect-agent.ts";

export interface JoinStudioOptions {
  readonly dataDir: string;
  readonly name: string;
  /** host:port: skip discovery (and mDNS entirely unless mdnsInterface is given). */
  readonly coordinator?: string;
  readonly enroll?: string;
  readonly joinToken?: string;
  readonly caFingerprint?: string;
  /** IP of the interface for mDNS; default every LAN interface. */
  readonly mdnsInterface?: string;
  /** False: never touch mDNS (no advert, no browse). Default: on unless --coordinator is given without --mdns-interface. */
  readonly mdns?: boolean;
  readonly discoveryTimeoutMs?: number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly onPending?: (agentId: string, message: string) => void;
}

export interface StudioMembership {
  readonly agentId: string;
  readonly connection: AgentConnection;
  /** The health endpoint's port (sent in the join: the coordinator's liveness probe connects there). */
  readonly healthPort: number;
  /** Says goodbye on mDNS and closes the health endpoint. */
  stop(): Promise<void>;
}

/**
 * Everything before the work loop: the agent's key (and so its id), its mDNS
 * advert and health endpoint, finding the coordinator and enrolling or
 * reusing stored credentials.
 */
export async function joinStudio(o: JoinStudioOptions): Promise<StudioMembership> {
  const keys = await loadOrCreateAgentKeys(o.dataDir, o.log);
  const agentId = agentIdForPublicKey(keys.publicKeyPem);
  const inventory = await probeInventory();
  const gpus = inventory.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes }));
  const useMdns = o.mdns ?? (o.coordinator === undefined || o.mdnsInterface !== undefined);
  const discovery = useMdns ? new BonjourDiscovery({ ...(o.mdnsInterface ? { interfaceIp: o.mdnsInterface } : {}), log: o.log }) : undefined;
  let enrolled = false;
  let presence: AgentPresence | undefined;
  let health: HealthEndpoint | undefined;
  const stop = async (): Promise<void> => {
    await presence?.stop().catch(() => undefined);
    await health?.stop().catch(() => undefined);
    await discovery?.stop().catch(() => undefined);
  };
  try {
    // With or without mDNS: the coordinator probes it when the agent's heartbeats go silent.
    health = await startHealthEndpoint({ agentId, name: o.name, ...(o.mdnsInterface ? { listenHost: o.mdnsInterface } : {}), status: () => ({ enrolled }) });
    if (discovery) presence = startAgentPresence({ discovery, agentId, name: o.name, gpus, healthPort: health.port, log: o.log });
    const connection = await connectAgent({
      dataDir: o.dataDir,
      keys,
      name: o.name,
      gpus,
      ...(o.coordinator ? { coordinator: o.coordinator } : {}),
      ...(o.enroll ? { enroll: o.enroll } : {}),
      ...(o.joinToken ? { joinToken: o.joinToken } : {}),
      ...(o.caFingerprint ? { caFingerprint: o.caFingerprint } : {}),
      ...(discovery ? { discovery, discoveryScope: o.mdnsInterface ? `interface ${o.mdnsInterface}` : "every LAN interface" } : {}),
      ...(o.discoveryTimeoutMs ? { discoveryTimeoutMs: o.discoveryTimeoutMs } : {}),
      log: o.log,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onPending ? { onPending: o.onPending } : {}),
    });
    enrolled = true;
    return { agentId, connection, healthPort: health.port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
