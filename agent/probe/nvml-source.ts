import { gpuMemoryOfPids } from "./process-memory.ts";
import type { Nvml, NvmlDevice } from "./nvml.ts";
import type { EnergyCounterReading, PowerReading, PowerSource } from "./power-source-types.ts";
import type { GpuProcessEntry } from "./other-gpu-users.ts";

/**
 * Power source over NVML: board power (mW) and the total-energy counter (mJ,
 * Volta and newer) of the chosen GPUs, and the GPU memory of the agent's pids.
 */
export interface NvmlSourceOptions {
  /** GPU indices this agent uses; all when omitted. */
  gpuIndices?: readonly number[];
  /** The agent's own pids (default: this process). */
  ownPids?: readonly number[];
  now?: () => number;
}

export type NvmlSourceResult = { ok: true; source: PowerSource } | { ok: false; reason: string };

/** Takes ownership of `nvml`: close() shuts it down. Fails when no chosen GPU reports power. */
export function createNvmlSource(nvml: Nvml, options: NvmlSourceOptions = {}): NvmlSourceResult {
  const now = options.now ?? Date.now;
  const ownPids = options.ownPids ?? [process.pid];
  const count = nvml.deviceCount();
  const indices = options.gpuIndices ?? Array.from({ length: count }, (_, i) => i);
  const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= count);
  if (bad !== undefined) return { ok: false, reason: `GPU index ${bad} does not exist (NVML sees ${count})` };
  if (indices.length === 0) return { ok: false, reason: "NVML sees no GPU" };
  const devices: { dev: NvmlDevice; id: string; uuid: string }[] = indices.map((i) => {
    const dev = nvml.device(i);
    const uuid = dev.uuid() ?? `index-${i}`;
    return { dev, id: `nvml:${uuid}`, uuid };
  });
  const silent = devices.filter(({ dev }) => dev.powerWatts() === null && dev.totalEnergyMj() === null);
  if (silent.length > 0) {
    return { ok: false, reason: `GPU ${silent.map((d) => d.dev.index).join(",")} reports neither power nor energy via NVML` };
  }
  const names = devices.map(({ dev }) => dev.name() ?? "unknown").join(", ");
  let closed = false;
  return {
    ok: true,
    source: {
      kind: "nvml",
      description: `NVML: ${devices.length} GPU (${names})`,
      async read(): Promise<PowerReading> {
        const tMs = now();
        let watts: number | null = 0;
        let counters: EnergyCounterReading[] | null = [];
        const procs: GpuProcessEntry[] = [];
        let sawProcs = false;
        for (const { dev, id, uuid } of devices) {
          const w = dev.powerWatts();
          watts = w === null || watts === null ? null : watts + w;
          const e = dev.totalEnergyMj();
          counters = e === null || counters === null ? null : [...counters, { id, value: e, maxRange: null, joulesPerUnit: 1e-3 }];
          const p = dev.computeProcesses();
          if (p !== null) {
            sawProcs = true;
            for (const x of p) procs.push({ pid: x.pid, usedBytes: x.usedGpuMemoryBytes, gpuUuid: uuid });
          }
        }
        return {
          tMs,
          watts,
          counters,
          vramBytes: sawProcs ? (gpuMemoryOfPids(procs, ownPids) ?? 0) : null,
          ...deviceExtras(devices.map((d) => d.dev)),
          gpuProcesses: sawProcs ? procs : null,
        };
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        nvml.shutdown();
      },
    },
  };
}

/** Utilisation (mean), temperature (max) and power limit (sum) of the devices; a field is null when any device cannot say. */
function deviceExtras(devs: readonly NvmlDevice[]): Pick<PowerReading, "utilisationPercent" | "temperatureC" | "powerLimitWatts"> {
  const each = <T>(f: (d: NvmlDevice) => T | null): T[] | null => {
    const out: T[] = [];
    for (const d of devs) {
      let v: T | null;
      try {
        v = f(d);
      } catch {
        v = null; // an optional figure: a failure here must not lose the power reading
      }
      if (v === null) return null;
      out.push(v);
    }
    return out;
  };
  const util = each((d) => d.utilization()?.gpuPercent ?? null);
  const temp = each((d) => d.temperatureC());
  const limit = each((d) => d.enforcedPowerLimitWatts());
  return {
    utilisationPercent: util === null || util.length === 0 ? null : util.reduce((a, b) => a + b, 0) / util.length,
    temperatureC: temp === null || temp.length === 0 ? null : Math.max(...temp),
    powerLimitWatts: limit === null || limit.length === 0 ? null : limit.reduce((a, b) => a + b, 0),
  };
}
