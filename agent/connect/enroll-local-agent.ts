import type { Logger } from "../../shared/log.ts";
import { loadOrCreateAgentKeys } from "../trust/agent-keys.ts";
import { startAgent, type StartAgentOptions } from "../start-agent.ts";
import type { Agent } from "../agent.ts";
import { connectAgent, type AgentConnection } from "./connect-agent.ts";

/** What an in-process caller (the demo, tests, benches) knows about its coordinator: a started Coordinator's `joinPoint`. */
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
 * the result to startAgent({ coordinator: c.address, credentials: c.credentials }),
 * or use startEnrolledAgent, which does both.
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

/**
 * An in-process agent that joins like a remote one: enrolled with a join
 * token, then started with mutual TLS against the coordinator's address.
 * The demo, the test helpers and the benches start their agents this way.
 */
export async function startEnrolledAgent(
  coordinator: LocalCoordinator,
  joinToken: string,
  o: Omit<StartAgentOptions, "coordinator" | "credentials"> & { name: string },
): Promise<Agent> {
  const { credentials } = await enrollLocalAgent({ coordinator, joinToken, dataDir: o.dataDir, name: o.name, log: o.log });
  const { agent } = await startAgent({ ...o, coordinator: coordinator.address, credentials });
  return agent;
}
