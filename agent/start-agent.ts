import { hostname } from "node:os";
import type { Logger } from "../shared/log.ts";
import { choosePowerSource } from "./probe/power-source.ts";
import { createChunkMeter } from "./probe/chunk-meter.ts";
import { probeInventory } from "./probe/gpu-inventory.ts";
import type { EnergySource } from "../shared/accounting/chunk-accounting.ts";
import { Agent } from "./agent.ts";

export interface StartAgentOptions {
  coordinator: string;
  name?: string;
  dataDir: string;
  modelsDir: string;
  tags?: string[];
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Force one energy source (tests, or an admin who knows better). */
  energySource?: EnergySource;
  idleWatts?: number | null;
  drainTimeoutMs?: number;
  log: Logger;
}

/** Probes the host (GPUs, power source), then starts an agent. The caller owns stop()/drain(). */
export async function startAgent(o: StartAgentOptions): Promise<{ agent: Agent; energySource: EnergySource }> {
  const inventory = await probeInventory();
  const choice = await choosePowerSource({ ...(o.energySource ? { only: o.energySource } : {}), ownPids: [process.pid], log: o.log });
  for (const s of choice.skipped) o.log.info({ source: s.kind, reason: s.reason }, "power source skipped");
  o.log.info({ source: choice.source.kind, gpus: inventory.gpus.length }, "power source chosen");
  const agent = new Agent({
    name: o.name ?? hostname(),
    dataDir: o.dataDir,
    modelsDir: o.modelsDir,
    coordinator: o.coordinator,
    tags: o.tags ?? [],
    gpus: inventory.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes, uuid: g.uuid })),
    ...(o.executionProviders ? { executionProviders: o.executionProviders } : {}),
    ...(o.intraOpThreads ? { intraOpThreads: o.intraOpThreads } : {}),
    newMeter: () => createChunkMeter({ source: choice.source, idleWatts: o.idleWatts ?? null, log: o.log }),
    drainTimeoutMs: o.drainTimeoutMs ?? 60_000,
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
