import type { EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import type { GpuProcessEntry } from "./other-gpu-users.ts";

/** One raw reading of a hardware energy counter. */
export interface EnergyCounterReading {
  /** Stable per counter: "nvml:<gpu uuid>", "rapl:intel-rapl:0". */
  id: string;
  /** Raw counter value, in the counter's own unit. */
  value: number;
  /** Wrap range in the same unit (RAPL max_energy_range_uj); null for counters that do not wrap. */
  maxRange: number | null;
  /** 1e-3 for NVML millijoules, 1e-6 for RAPL microjoules. */
  joulesPerUnit: number;
}

export interface PowerReading {
  /** When the values were taken, ms on the Date.now() clock. */
  tMs: number;
  /** Total draw of what this source measures; null when not available this time. */
  watts: number | null;
  /** Energy counters, when the source has them and they could be read. */
  counters: EnergyCounterReading[] | null;
  /** GPU memory held by the agent's own pids, when the source can see it. */
  vramBytes: number | null;
  /** Utilisation 0-100 of what is measured (mean over GPUs; CPU for the estimate); absent or null when unknown. */
  utilisationPercent?: number | null;
  /** Hottest measured GPU, degrees C. */
  temperatureC?: number | null;
  /** The most the measured devices may draw: enforced power limits summed, or the estimate's busy watts. */
  powerLimitWatts?: number | null;
  /** Every process holding memory or compute on the watched GPUs (the agent's own included), when visible. */
  gpuProcesses?: GpuProcessEntry[] | null;
}

/** A place power readings come from. The meter polls read() while a chunk runs. */
export interface PowerSource {
  readonly kind: EnergySource;
  /** For logs: what is measured, e.g. "NVML: 1 GPU (NVIDIA H100 80GB HBM3)". */
  readonly description: string;
  read(): Promise<PowerReading>;
  /** Frees what the source holds (NVML handle, nvidia-smi child). Safe to call twice. */
  close(): Promise<void>;
}
