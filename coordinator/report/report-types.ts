import type { EnergySource, MemoryKind } from "../../shared/accounting/chunk-accounting.ts";
import type { CostPart } from "../../shared/accounting/tariff.ts";

/**
 * What `nightshift report --json` prints. Energy is the chunks' measured
 * energy (idle draw included, never subtracted); idleEnergyWh is the idle
 * baseline over the same chunks' wall time, and idleShare = idle / energy.
 */
export interface AgentReport {
  id: string;
  name: string;
  frames: number;
  chunks: number;
  /** Sum of the agent's chunk wall seconds. */
  seconds: number;
  busySeconds: number;
  framesPerSecond: number;
  energyWh: number;
  kWh: number;
  /** The weakest source among its chunks: a single estimated chunk makes the total an estimate. */
  energySource: EnergySource;
  idleEnergyWh: number;
  idleShare: number;
  whPerFrame: number;
  /** Energy per second of output video (its frames at each job's fps). */
  whPerVideoSecond: number;
  /** Peak of RAM or VRAM, whichever its chunks reported (see memoryKind). */
  peakMemoryBytes: number;
  /** Set when the peak is GPU memory; null on CPU agents. */
  peakVramBytes: number | null;
  memoryKind: MemoryKind;
  cost: number;
}

export interface JobReport {
  id: string;
  name: string;
  state: string;
  frames: number;
  chunks: number;
  /** From the job's start to its end (or now). */
  wallSeconds: number;
  /** Sum of chunk wall seconds over all agents. */
  seconds: number;
  energyWh: number;
  kWh: number;
  idleEnergyWh: number;
  idleShare: number;
  whPerFrame: number;
  /** Energy per second of output video (frames / fps seconds). */
  whPerVideoSecond: number;
  peakMemoryBytes: number;
  peakVramBytes: number | null;
  cost: number;
  energySource: EnergySource;
}

export interface ReportTotals {
  frames: number;
  chunks: number;
  seconds: number;
  energyWh: number;
  kWh: number;
  idleEnergyWh: number;
  idleShare: number;
  whPerFrame: number;
  whPerVideoSecond: number;
  cost: number;
  /** Energy and cost at each price the tariff charged (one entry on a flat tariff). */
  costByPrice: CostPart[];
  energySource: EnergySource | null;
  /**
   * Everything the agents' sources measured over the period from telemetry
   * (between chunks too), and the part of it in minutes with no chunk
   * running; null without telemetry.
   */
  telemetryEnergyWh: number | null;
  telemetryIdleEnergyWh: number | null;
}

export interface FarmReport {
  generatedAtMs: number;
  /** job: one job's life; night: the last 24 hours; all: everything in a data dir. */
  period: "job" | "night" | "all";
  fromMs: number;
  toMs: number;
  currency: string;
  tariff: string;
  /** The summary of the period (the night's summary when no job is given). */
  totals: ReportTotals;
  agents: AgentReport[];
  jobs: JobReport[];
}
