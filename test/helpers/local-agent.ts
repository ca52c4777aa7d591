import { join } from "node:path";
import type { TestContext } from "node:test";
import type { Coordinator } from "../../coordinator/coordinator.ts";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { startAgent, type StartAgentOptions } from "../../agent/start-agent.ts";
import type { Agent } from "../../agent/agent.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { defer } from "./defer.ts";
import { testLog } from "./test-log.ts";

/**
 * An in-process agent enrolled with a join token on loopback (as the demo's
 * agents are), started with `extra` options; stopped when the test ends.
 */
export async function startLocalAgent(
  t: TestContext,
  coordinator: Coordinator,
  dir: string,
  name: string,
  extra: Partial<Omit<StartAgentOptions, "coordinator" | "credentials" | "name" | "dataDir" | "log">> = {},
): Promise<Agent> {
  const log = testLog();
  const { token } = coordinator.trust.tokens.create({ ttlMs: 10 * 60_000, multiUse: false, label: name });
  const dataDir = join(dir, `agent-${name}`);
  const local = { address: coordinator.address, enrollAddress: coordinator.enrollAddress, caFingerprint: coordinator.trust.caFingerprint };
  const { credentials } = await enrollLocalAgent({ coordinator: local, joinToken: token, dataDir, name, log });
  const { agent } = await startAgent({
    coordinator: coordinator.address,
    credentials,
    name,
    dataDir,
    modelsDir: BUNDLED_MODELS_DIR,
    intraOpThreads: 1,
    energySource: "estimate",
    log,
    ...extra,
  });
  defer(t, () => agent.stop());
  return agent;
}
