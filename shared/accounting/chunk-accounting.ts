/**
 * Where an energy figure came from. Always reported next to the figure:
 * - nvml: NVML total-energy counter (mJ), or NVML power samples integrated
 * - nvidia-smi: power.draw samples from a long-running nvidia-smi, integrated
 * - rapl: Linux powercap RAPL energy counters (uJ), wrap-around handled
 * - estimate: configured or looked-up watts times utilisation; not a measurement
 */
export type EnergySource = "nvml" | "nvidia-smi" | "rapl" | "estimate";

export const ENERGY_SOURCES: readonly EnergySource[] = ["nvml", "nvidia-smi", "rapl", "estimate"];

/** What kind of memory peakMemoryBytes counts. */
export type MemoryKind = "vram" | "ram";

/** The figures an agent measures for one chunk attempt and sends with its result. */
export interface ChunkAccounting {
  wallSeconds: number;
  /** Seconds the executor was actually computing (excludes waiting on upload backpressure). */
  busySeconds: number;
  energyJoules: number;
  energySource: EnergySource;
  /** Idle draw of the node over the same wall time (baseline watts x wall seconds); 0 when unknown. */
  idleEnergyJoules: number;
  peakMemoryBytes: number;
  memoryKind: MemoryKind;
  /** Mean power over the chunk, watts. */
  meanWatts: number;
  samples: number;
}

/** Measures one chunk: start before the executor runs, stop after. */
export interface ChunkMeter {
  readonly source: EnergySource;
  start(): Promise<void>;
  /** Marks busy time; the executor wraps each unit of compute in busy()/idle(). */
  markBusy(seconds: number): void;
  stop(): Promise<ChunkAccounting>;
}
