import type { Logger } from "../../shared/log.ts";
import { BonjourDiscovery } from "../../shared/discovery/bonjour-discovery.ts";
import { AGENT_SERVICE_TYPE, COORDINATOR_SERVICE_TYPE, type Discovery } from "../../shared/discovery/discovery.ts";
import { encodeCoordinatorTxt, type NatsEndpoint } from "../../shared/discovery/txt-records.ts";
import type { AgentSightings } from "./agent-sightings.ts";

export interface LanPresenceOptions {
  /** Interface to advertise and browse on; undefined: every LAN interface. */
  readonly interfaceIp?: string;
  readonly grpcPort: number;
  readonly enrollPort: number;
  readonly nats: NatsEndpoint;
  readonly caFingerprint: string;
  readonly sightings: AgentSightings;
  readonly log: Logger;
  /** For tests: another Discovery implementation. */
  readonly discovery?: Discovery;
}

export interface LanPresence {
  stop(): Promise<void>;
}

/**
 * The coordinator on the LAN: advertises `_nightshift._tcp` (gRPC, enroll and
 * NATS ports, the CA fingerprint, the TXT version) and browses for agents.
 */
export function startLanPresence(o: LanPresenceOptions): LanPresence {
  const discovery = o.discovery ?? new BonjourDiscovery({ ...(o.interfaceIp ? { interfaceIp: o.interfaceIp } : {}), log: o.log, requeryIntervalMs: 10_000 });
  const name = `nightshift-coordinator-${o.caFingerprint.slice(0, 12)}`;
  const advert = discovery.advertise({
    name,
    type: COORDINATOR_SERVICE_TYPE,
    port: o.grpcPort,
    host: `${name}.local`,
    txt: encodeCoordinatorTxt({ grpcPort: o.grpcPort, enrollPort: o.enrollPort, nats: o.nats, caFingerprint: o.caFingerprint }),
  });
  const browse = discovery.browse(
    AGENT_SERVICE_TYPE,
    (s) => o.sightings.up(s),
    (s) => o.sightings.down(s),
  );
  o.log.info({ name, interface: o.interfaceIp ?? "all", grpc: o.grpcPort, enroll: o.enrollPort }, "advertising on the LAN (mDNS)");
  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        browse.stop();
        o.sightings.stop();
        await advert.stop().catch(() => undefined);
        await discovery.stop();
      })();
      return stopping;
    },
  };
}
