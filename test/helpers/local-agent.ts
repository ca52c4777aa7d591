import { join } from "node:path";
import type { TestContext } from "node:test";
import type { Coordinator } from "../../coordinator/coordinator.ts";
import { startEnrolledAgent } from "../../agent/connect/enroll-local-agent.ts";
import type { StartAgentOptions } from "../../agent/start-agent.ts";
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
  /** The gRPC address the agent reaches the coordinator at (a proxy in front of it); default the coordinator's own. */
  via?: string,
): Promise<Agent> {
  const log = testLog();
  const { token } = coordinator.trust.tokens.create({ ttlMs: 10 * 60_000, multiUse: false, label: name });
  const dataDir = join(dir, `agent-${name}`);
  const agent = await startEnrolledAgent(via === undefined ? coordinator.joinPoint : { ...coordinator.joinPoint, address: via }, token, {
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
