import type { Command } from "commander";
import { startAgent } from "../../agent/start-agent.ts";
import { createLogger } from "../../shared/log.ts";
import { BadInputError } from "../../shared/errors.ts";
import { ENERGY_SOURCES, type EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import { BUNDLED_MODELS_DIR, defaultAgentDataDir } from "../paths.ts";
import { readConfigFile } from "./coordinator-command.ts";
import { collect } from "./parse-args.ts";
import { shutdownSignal, untilAborted } from "../signals.ts";

interface AgentFlags {
  config?: string;
  dataDir?: string;
  coordinator?: string;
  name?: string;
  joinToken?: string;
  mdnsInterface?: string;
  modelsDir?: string;
  tag: string[];
  energySource?: string;
  idleWatts?: string;
  cuda?: boolean;
}

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("run a render agent on this machine")
    .option("--config <file>", "YAML or JSON config file")
    .option("--data-dir <dir>", "agent identity and cache (default ~/.nightshift/agent)")
    .option("--coordinator <host:port>", "coordinator address (skips discovery)")
    .option("--name <name>", "name shown in `nightshift agents` (default: host name)")
    .option("--join-token <token>", "enrollment token from `nightshift token create`")
    .option("--mdns-interface <ip>", "interface for mDNS discovery")
    .option("--models-dir <dir>", "models directory")
    .option("--tag <tag>", "tag for placement constraints (repeatable)", collect, [])
    .option("--energy-source <source>", `force one of: ${ENERGY_SOURCES.join(", ")}`)
    .option("--idle-watts <w>", "idle draw of this node, reported separately")
    .option("--cuda", "run ONNX models with the CUDA execution provider (needs onnxruntime's CUDA libraries)")
    .action(async (flags: AgentFlags) => {
      const file = flags.config ? readConfigFile(flags.config) : {};
      const coordinator = flags.coordinator ?? (file.coordinator as string | undefined);
      if (!coordinator) {
        throw new BadInputError("agent: no coordinator: pass --coordinator HOST:PORT (LAN discovery arrives with enrollment)", { field: "coordinator" });
      }
      if (flags.energySource && !ENERGY_SOURCES.includes(flags.energySource as EnergySource)) {
        throw new BadInputError(`--energy-source: expected one of ${ENERGY_SOURCES.join(", ")}, got '${flags.energySource}'`, { field: "energySource" });
      }
      const idle = flags.idleWatts === undefined ? null : Number(flags.idleWatts);
      if (idle !== null && !(idle >= 0)) throw new BadInputError(`--idle-watts: expected watts >= 0, got '${flags.idleWatts}'`, { field: "idleWatts" });
      const log = createLogger("nightshift-agent");
      const { agent } = await startAgent({
        coordinator,
        ...(flags.name ? { name: flags.name } : {}),
        dataDir: flags.dataDir ?? defaultAgentDataDir(),
        modelsDir: flags.modelsDir ?? BUNDLED_MODELS_DIR,
        tags: flags.tag,
        ...(flags.cuda ? { executionProviders: ["cuda", "cpu"] } : {}),
        ...(flags.energySource ? { energySource: flags.energySource as EnergySource } : {}),
        idleWatts: idle,
        log,
      });
      process.stdout.write(`agent ${agent.agentId} running, coordinator ${coordinator}\n`);
      await untilAborted(shutdownSignal());
      await agent.drain();
    });
}
