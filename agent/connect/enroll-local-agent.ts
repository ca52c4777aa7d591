import type { Logger } from "../../shared/log.ts";
import { loadOrCreateAgentKeys } from "../trust/agent-keys.ts";
import { connectAgent, type AgentConnection } from "./connect-agent.ts";

/** What an in-process caller (the demo, tests, benches) knows about its coordinator. */
export interface LocalCoordinator {
  /** gRPC host:port (mutual TLS). */
  readonly address: string;
  /** Enrollment listener host:port. */
  readonly enrollAddress: string;
  readonly caFingerprint: string;
}

/**
 * Enrolls (or re-uses) an agent data dir against a coordinator whose address
 * and CA are known, with a join token: no mDNS, no trust on first use. Pass
 * the result to startAgent({ coordinator: c.address, credentials: c.credentials }).
 */
export async function enrollLocalAgent(o: {
  coordinator: LocalCoordinator;
  joinToken: string;
  dataDir: string;
  name: string;
  log: Logger;
}): Promise<AgentConnection> {
  const keys = await loadOrCreateAgentKeys(o.dataDir, o.log);
  return connectAgent({
    dataDir: o.dataDir,
    keys,
    name: o.name,
    gpus: [],
    coordinator: o.coordinator.address,
    enroll: o.coordinator.enrollAddress,
    joinToken: o.joinToken,
    caFingerprint: o.coordinator.caFingerprint,
    log: o.log,
  });
}
