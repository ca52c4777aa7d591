/**
 * A real coordinator on loopback (embedded nats-server, mutual TLS, the
 * enrollment listener, no mDNS) whose log lines the test can read: the
 * trust tests assert on what the coordinator says as well as on what it does.
 */
import { join } from "node:path";
import type { TestContext } from "node:test";
import { pino } from "pino";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { defer } from "./defer.ts";
import { tempDir } from "./temp-dir.ts";

export async function startTrustCoordinator(t: TestContext, prefix: string) {
  const dir = tempDir(t, prefix);
  const logs: string[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logs.push(line) });
  const dataDir = join(dir, "data");
  const config = compileCoordinatorConfig({ dataDir, outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" }, BUNDLED_MODELS_DIR);
  const coordinator = await Coordinator.start(config, log);
  defer(t, () => coordinator.stop());
  return { coordinator, dataDir, dir, local: coordinator.joinPoint, logs };
}
