import { hostname } from "node:os";
import type { Logger } from "../shared/log.ts";
import { choosePowerSource } from "./probe/power-source.ts";
import { createChunkMeter } from "./probe/chunk-meter.ts";
import { MeterHandOver } from "./probe/meter-hand-over.ts";
import { probeInventory } from "./probe/gpu-inventory.ts";
import type { EnergySource } from "../shared/accounting/chunk-accounting.ts";
import { Agent } from "./agent.ts";
import type { AgentCredentials } from "./trust/agent-credentials.ts";
import { AgentTelemetry } from "./telemetry/agent-telemetry.ts";
import { DEFAULT_CPU_ESTIMATE } from "./probe/estimate.ts";
import type { ChunkAccounting, ChunkMeter } from "../shared/accounting/chunk-accounting.ts";

export interface MeasuredChunk {
  accounting: ChunkAccounting;
  /**
   * The meter's own clock readings at start and stop (Date.now()). The energy covers this interval less
   * any part a later chunk's meter counted (meter-hand-over.ts: an ONNX chunk's last upload overlaps the next chunk);
   * bench/energy-compare.ts compares overlapping chunks as one group for that reason.
   */
  startMs: number;
  endMs: number;
}

/** A chunk meter; with onMeasured, its clock readings are kept so the interval it measured is known exactly. */
function measuredMeter(source: PowerSource, idleWatts: number | null, log: Logger, handOver: MeterHandOver, onMeasured?: (m: MeasuredChunk) => void): ChunkMeter {
  if (!onMeasured) return createChunkMeter({ source, idleWatts, log, handOver });
  const ticks: number[] = [];
  const meter = createChunkMeter({ source, idleWatts, log, handOver, now: () => ticks[ticks.push(Date.now()) - 1] as number });
  return {
    source: meter.source,
    start: () => meter.start(),
    markBusy: (s) => meter.markBusy(s),
    async stop() {
      const accounting = await meter.stop();
      onMeasured({ accounting, startMs: ticks[0] ?? 0, endMs: ticks.at(-1) ?? 0 });
      return accounting;
    },
  };
}
import type { PowerSource } from "./probe/power-source-types.ts";
import { AgentKindsConfigSchema, type AgentKindsConfig } from "./config/agent-kinds-config.ts";
import { kindFactories } from "./executors/agent-kinds.ts";
import type { AgentLimits } from "./config/agent-limits.ts";

export interface StartAgentOptions {
  coordinator: string;
  /** Enrolled credentials (agent/connect/connect-agent.ts); the coordinator refuses agents without them. */
  credentials?: AgentCredentials;
  /** The health endpoint's port, sent in the join (the coordinator's liveness probe). */
  healthPort?: number;
  /** The agent lost its NATS connection for good (removed from the studio?). */
  onLost?: (reason: string) => void;
  name?: string;
  dataDir: string;
  modelsDir: string;
  tags?: string[];
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Force one energy source (tests, or an admin who knows better). */
  energySource?: EnergySource;
  /** Idle draw (`--idle-watts`); when absent it is measured from telemetry taken while no chunk runs. */
  idleWatts?: number | null;
  drainTimeoutMs?: number;
  /** Size cap of the asset cache, bytes (agent/assets/cache-size.ts). */
  cacheBytes?: number;
  /** Telemetry sample period (`--telemetry-interval-ms`). Default 1000. */
  telemetryIntervalMs?: number;
  /** How long the GPU must be free of other users before chunks are taken again (`--gpu-free-seconds`). Default 60. */
  gpuFreeSeconds?: number;
  /** False: keep taking chunks while other processes use the GPU. Default true. */
  pauseOnForeignGpuUse?: boolean;
  /** An already open power source (tests, the NVML check script); skips probing. The agent closes it on stop. */
  powerSource?: PowerSource;
  /** Called with each chunk's figures and the exact interval the meter measured (the NVML-vs-agent check). */
  onChunkMeasured?: (m: MeasuredChunk) => void;
  /** Step kinds beyond `model` (blender, command, comfyui), from the agent's config. */
  kinds?: AgentKindsConfig;
  /** `keepUploadBytes` and `claimNext` (agent/config/agent-limits.ts); each absent: the Agent's default. */
  limits?: Partial<AgentLimits>;
  log: Logger;
}

/** Probes the host (GPUs, power source), then starts an agent. The caller owns stop()/drain(). */
export async function startAgent(o: StartAgentOptions): Promise<{ agent: Agent; energySource: EnergySource }> {
  const inventory = await probeInventory();
  const choice = o.powerSource
    ? { source: o.powerSource, skipped: [] }
    : await choosePowerSource({ ...(o.energySource ? { only: o.energySource } : {}), ownPids: [process.pid], log: o.log });
  for (const s of choice.skipped) o.log.info({ source: s.kind, reason: s.reason }, "power source skipped");
  const telemetry = new AgentTelemetry({
    source: choice.source,
    ownPids: [process.pid],
    // The estimate's own idle figure is its baseline (as much an estimate as its energy); other sources measure theirs.
    configuredIdleWatts: o.idleWatts ?? (choice.source.kind === "estimate" && !o.powerSource ? DEFAULT_CPU_ESTIMATE.idleWatts : null),
    ...(o.telemetryIntervalMs !== undefined ? { intervalMs: o.telemetryIntervalMs } : {}),
    gpuFreeMs: (o.gpuFreeSeconds ?? 60) * 1000,
    ...(o.pauseOnForeignGpuUse !== undefined ? { pauseOnForeignGpuUse: o.pauseOnForeignGpuUse } : {}),
    log: o.log,
  });
  o.log.info({ source: choice.source.kind, gpus: inventory.gpus.length }, "power source chosen");
  // One for all the agent's chunk meters: two chunks' meters that run at once never count the same energy.
  const handOver = new MeterHandOver();
  const agent = new Agent({
    name: o.name ?? hostname(),
    dataDir: o.dataDir,
    modelsDir: o.modelsDir,
    coordinator: o.coordinator,
    tags: o.tags ?? [],
    gpus: inventory.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes, uuid: g.uuid })),
    ...(o.executionProviders ? { executionProviders: o.executionProviders } : {}),
    ...(o.intraOpThreads ? { intraOpThreads: o.intraOpThreads } : {}),
    newMeter: () => measuredMeter(choice.source, telemetry.idleWatts(), o.log, handOver, o.onChunkMeasured),
    telemetry,
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.onLost ? { onLost: o.onLost } : {}),
    ...(o.healthPort ? { healthPort: o.healthPort } : {}),
    drainTimeoutMs: o.drainTimeoutMs ?? 60_000,
    factories: kindFactories(o.kinds ?? AgentKindsConfigSchema.parse({}), o.log, o.name ?? hostname()),
    ...(o.cacheBytes !== undefined ? { cacheBytes: o.cacheBytes } : {}),
    ...o.limits,
    log: o.log,
    onStopped: () => choice.source.close(),
  });
  try {
    await agent.start();
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return { agent, energySource: choice.source.kind };
}
