import type { EnergySource, MemoryKind } from "../../shared/accounting/chunk-accounting.ts";

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
  /** The weakest source among its chunks: a single estimated chunk makes the total an estimate. */
  energySource: EnergySource;
  idleEnergyWh: number;
  peakMemoryBytes: number;
  /** Set when the peak is GPU memory. */
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
  wallSeconds: number;
  energyWh: number;
  idleEnergyWh: number;
  idleShare: number;
  whPerFrame: number;
  /** Energy per second of output video (frames / fps seconds). */
  whPerVideoSecond: number;
  peakMemoryBytes: number;
  cost: number;
  energySource: EnergySource;
}

export interface FarmReport {
  generatedAtMs: number;
  /** The period covered (a job's life, or the night). */
  fromMs: number;
  toMs: number;
  currency: string;
  tariff: string;
  totals: { frames: number; energyWh: number; kWh: number; idleEnergyWh: number; cost: number };
  agents: AgentReport[];
  jobs: JobReport[];
}
