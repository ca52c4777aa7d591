import { hostname } from "node:os";
import type { Command } from "commander";
import { BadInputError } from "../../shared/errors.ts";
import { ENERGY_SOURCES, type EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import { BUNDLED_MODELS_DIR, defaultAgentDataDir } from "../paths.ts";
import { collect } from "./parse-args.ts";
import { parseCacheSize } from "../../agent/assets/cache-size.ts";
import { shutdownSignal, untilAborted } from "../signals.ts";
import type { AgentKindsConfig } from "../../agent/config/agent-kinds-config.ts";
import type { AgentFile } from "../../agent/config/agent-file-schema.ts";

/** The step-kind part of the config file, with --shared-root and --blender on top; a bad entry names its field. */
async function agentKindsConfig(file: AgentFile, flags: AgentFlags): Promise<AgentKindsConfig> {
  // zod loads here, not when the CLI starts.
  const [{ AgentKindsConfigSchema }, { badInputFromIssues, specIssuesFromZod }] = await Promise.all([
    import("../../agent/config/agent-kinds-config.ts"),
    import("../../shared/job-spec/format-issues.ts"),
  ]);
  const raw = { sharedRoot: flags.sharedRoot ?? file.sharedRoot, blender: file.blender, commands: file.commands, comfyui: file.comfyui };
  if (flags.blender) raw.blender = { ...(raw.blender ?? { enabled: true }), path: flags.blender };
  const parsed = AgentKindsConfigSchema.safeParse(raw);
  if (!parsed.success) throw badInputFromIssues(specIssuesFromZod(parsed.error.issues, raw), "agent config");
  return parsed.data;
}

interface AgentFlags {
  config?: string;
  dataDir?: string;
  coordinator?: string;
  name?: string;
  joinToken?: string;
  mdnsInterface?: string;
  enroll?: string;
  caFingerprint?: string;
  discoveryTimeout?: string;
  modelsDir?: string;
  tag: string[];
  energySource?: string;
  idleWatts?: string;
  cuda?: boolean;
  onnxProviders?: string;
  telemetryIntervalMs?: string;
  gpuFreeSeconds?: string;
  sharedRoot?: string;
  blender?: string;
  cacheSize?: string;
  keepUploadBytes?: string;
  claimNext?: boolean;
}

/**
 * The model steps' execution providers: --onnx-providers, else the config's
 * onnxProviders, else cuda,cpu for --cuda, else undefined (the CPU). Anything
 * beyond the CPU is checked here, before the agent joins: a provider that
 * cannot start stops it with exit 2 and what the provider needs.
 */
async function onnxProvidersOf(flags: AgentFlags, file: AgentFile): Promise<string[] | undefined> {
  const text = flags.onnxProviders ?? file.onnxProviders;
  const field = flags.onnxProviders !== undefined ? "--onnx-providers" : "onnxProviders";
  if (text !== undefined && flags.cuda) throw new BadInputError(`--cuda: give either --cuda or ${field}, not both`, { field: "cuda" });
  if (text === undefined) return flags.cuda ? ["cuda", "cpu"] : undefined;
  const [{ parseOnnxProviders, needsProviderCheck }, { checkOnnxProviders }] = await Promise.all([
    import("../../agent/executors/onnx-providers.ts"),
    import("../../agent/executors/onnx-provider-check.ts"),
  ]);
  const providers = parseOnnxProviders(text, field);
  if (needsProviderCheck(providers)) await checkOnnxProviders(providers, BUNDLED_MODELS_DIR, field);
  return providers;
}

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("run a render agent on this machine")
    .option("--config <file>", "YAML or JSON config file")
    .option("--data-dir <dir>", "agent identity and cache (default ~/.nightshift/agent)")
    .option("--coordinator <host:port>", "coordinator address (skips mDNS discovery)")
    .option("--name <name>", "name shown in `nightshift agents` (default: host name)")
    .option("--join-token <token>", "enrollment token from `nightshift token create` (without one, the agent waits for `nightshift agents approve`)")
    .option("--ca-fingerprint <sha256>", "studio CA to pin at enrollment (printed by `nightshift token create`; default: the one the coordinator advertises)")
    .option("--enroll <host:port>", "enrollment address with --coordinator (default: its port + 1)")
    .option("--mdns-interface <ip>", "IP of the interface for mDNS (default: every LAN interface)")
    .option("--discovery-timeout <seconds>", "how long to look for the coordinator by mDNS", "5")
    .option("--models-dir <dir>", "models directory")
    .option("--tag <tag>", "tag for placement constraints (repeatable)", collect, [])
    .option("--energy-source <source>", `force one of: ${ENERGY_SOURCES.join(", ")}`)
    .option("--idle-watts <w>", "idle draw of this node, reported separately (default: measured while no chunk runs)")
    .option("--telemetry-interval-ms <ms>", "power telemetry sample period (default 1000)")
    .option("--gpu-free-seconds <s>", "after someone else used the GPU, wait until it has been free this long (default 60)")
    .option("--shared-root <dir>", "where the studio's shared root (NAS) is mounted on this machine (Blender scenes)")
    .option("--blender <path>", "the Blender executable (default: `blender` on PATH)")
    .option("--cache-size <size>", "cap of the model and asset cache under the data dir, e.g. 20GiB (config: cacheSize; default 20GiB)")
    .option("--onnx-providers <list>", "onnxruntime execution providers for model steps, in order, e.g. webgpu,cpu (config: onnxProviders; default cpu). webgpu is built in and needs the GPU driver's Vulkan ICD and the Vulkan loader; checked at start")
    .option("--keep-upload-bytes <size>", "frames one upload keeps in memory to send again if the coordinator restarts under it, e.g. 64MiB; 0 keeps none (config: keepUploadBytes; default 64MiB)")
    .option("--no-claim-next", "pull every chunk from the work queue instead of asking for the next one on the claim stream (config: claimNext: false)")
    .option("--cuda", "run ONNX models with the CUDA execution provider (needs onnxruntime's CUDA libraries); the same as --onnx-providers cuda,cpu")
    .action(async (flags: AgentFlags) => {
      // onnxruntime, gRPC and NATS load here, not when the CLI starts.
      const [{ readConfigFile }, { parseAgentFile }, { startAgent }, { joinStudio }, { createLogger }, { agentLimits }] = await Promise.all([
        import("../config-file.ts"),
        import("../../agent/config/agent-file-schema.ts"),
        import("../../agent/start-agent.ts"),
        import("../../agent/connect/join-studio.ts"),
        import("../../shared/log.ts"),
        import("../../agent/config/agent-limits.ts"),
      ]);
      // Every key checked before anything else runs: an unknown key or a wrong type is exit 2, naming the key and the file.
      const file = parseAgentFile(flags.config ? readConfigFile(flags.config) : {}, flags.config ?? "");
      const coordinator = flags.coordinator ?? file.coordinator;
      const discoverySeconds = Number(flags.discoveryTimeout);
      if (!(discoverySeconds >= 1 && discoverySeconds <= 600)) {
        throw new BadInputError(`--discovery-timeout: expected 1..600 seconds, got '${flags.discoveryTimeout}'`, { field: "discoveryTimeout" });
      }
      if (flags.energySource && !ENERGY_SOURCES.includes(flags.energySource as EnergySource)) {
        throw new BadInputError(`--energy-source: expected one of ${ENERGY_SOURCES.join(", ")}, got '${flags.energySource}'`, { field: "energySource" });
      }
      const idle = flags.idleWatts === undefined ? null : Number(flags.idleWatts);
      if (idle !== null && !(idle >= 0)) throw new BadInputError(`--idle-watts: expected watts >= 0, got '${flags.idleWatts}'`, { field: "idleWatts" });
      const telemetryIntervalMs = flags.telemetryIntervalMs === undefined ? 1000 : Number(flags.telemetryIntervalMs);
      if (!(Number.isInteger(telemetryIntervalMs) && telemetryIntervalMs >= 100 && telemetryIntervalMs <= 60_000)) {
        throw new BadInputError(`--telemetry-interval-ms: expected 100..60000, got '${flags.telemetryIntervalMs}'`, { field: "telemetryIntervalMs" });
      }
      const gpuFreeSeconds = flags.gpuFreeSeconds === undefined ? 60 : Number(flags.gpuFreeSeconds);
      if (!(gpuFreeSeconds >= 0 && gpuFreeSeconds <= 86_400)) {
        throw new BadInputError(`--gpu-free-seconds: expected 0..86400, got '${flags.gpuFreeSeconds}'`, { field: "gpuFreeSeconds" });
      }
      const executionProviders = await onnxProvidersOf(flags, file);
      const kinds = await agentKindsConfig(file, flags);
      const cacheBytes = parseCacheSize(flags.cacheSize ?? file.cacheSize, flags.cacheSize !== undefined ? "--cache-size" : "cacheSize");
      const limits = agentLimits(flags, file);
      const log = createLogger("nightshift-agent");
      const signal = shutdownSignal();
      const name = flags.name ?? hostname();
      const dataDir = flags.dataDir ?? defaultAgentDataDir();
      // Before the identity or the cache is read: two agents on one data dir would share a key and an identity.
      const { lockDataDir } = await import("../../shared/data-dir-lock/data-dir-lock.ts");
      const lock = lockDataDir(dataDir, "agent");
      try {
        const joinToken = flags.joinToken ?? file.joinToken;
        const membership = await joinStudio({
          dataDir,
          name,
          ...(coordinator ? { coordinator } : {}),
          ...(flags.enroll ? { enroll: flags.enroll } : {}),
          ...(joinToken ? { joinToken } : {}),
          ...(flags.caFingerprint ? { caFingerprint: flags.caFingerprint } : {}),
          ...(flags.mdnsInterface ? { mdnsInterface: flags.mdnsInterface } : {}),
          discoveryTimeoutMs: discoverySeconds * 1000,
          log,
          signal,
          onPending: (id, message) => process.stderr.write(`agent ${id}: ${message}\n`),
        });
        const lost = new AbortController();
        const started = startAgent({
          coordinator: membership.connection.address,
          credentials: membership.connection.credentials,
          healthPort: membership.healthPort,
          onLost: (reason) => lost.abort(new Error(reason)),
          name,
          dataDir,
          modelsDir: flags.modelsDir ?? BUNDLED_MODELS_DIR,
          tags: flags.tag,
          ...(executionProviders ? { executionProviders } : {}),
          ...(flags.energySource ? { energySource: flags.energySource as EnergySource } : {}),
          idleWatts: idle,
          telemetryIntervalMs,
          gpuFreeSeconds,
          kinds,
          cacheBytes,
          limits,
          log,
        });
        const { agent } = await started.catch(async (err: unknown) => {
          await membership.stop();
          throw err;
        });
        process.stdout.write(`agent ${agent.agentId} running, coordinator ${membership.connection.address}\n`);
        await Promise.race([untilAborted(signal), untilAborted(lost.signal)]);
        await agent.drain();
        await membership.stop();
        if (lost.signal.aborted && !signal.aborted) {
          throw new Error(`lost the coordinator for good (${(lost.signal.reason as Error).message}); was this agent removed? see \`nightshift agents\``);
        }
      } finally {
        lock.release();
      }
    });
}
