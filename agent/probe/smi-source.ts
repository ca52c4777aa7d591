import { silentLogger, type Logger } from "../../shared/log.ts";
import { gpuMemoryOfPids } from "./process-memory.ts";
import { queryComputeApps, queryGpus, startSmiSampler, type SmiCommand, type TimedSmiReading } from "./nvidia-smi.ts";
import type { PowerReading, PowerSource } from "./power-source-types.ts";
import type { GpuProcessEntry } from "./other-gpu-users.ts";

/**
 * Power source over a long-running `nvidia-smi --query-gpu ... -lms N`. read()
 * returns the latest power.draw of the chosen GPUs (no energy counter: the
 * meter integrates). The agent's own GPU memory comes from
 * `--query-compute-apps`, refreshed in the background at most once per
 * appsIntervalMs because each query starts a process.
 */
export interface SmiSourceOptions extends SmiCommand {
  gpuIndices?: readonly number[];
  ownPids?: readonly number[];
  /** -lms interval. Default 100 ms. */
  intervalMs?: number;
  /** Per-process memory refresh. Default 1000 ms. */
  appsIntervalMs?: number;
  /** A reading older than this many intervals counts as missing. Default 10. */
  staleAfterIntervals?: number;
  now?: () => number;
  log?: Logger;
}

export type SmiSourceResult = { ok: true; source: PowerSource } | { ok: false; reason: string };

export async function createSmiSource(options: SmiSourceOptions = {}): Promise<SmiSourceResult> {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 100;
  const ownPids = options.ownPids ?? [process.pid];
  const command: SmiCommand = { bin: options.bin, binArgs: options.binArgs };
  const probe = await queryGpus(command);
  if (!probe.ok) return probe;
  const gpus = probe.value.filter((g) => options.gpuIndices === undefined || options.gpuIndices.includes(g.index));
  if (gpus.length === 0) return { ok: false, reason: "nvidia-smi lists no (chosen) GPU" };
  const noPower = gpus.filter((g) => g.powerWatts === null);
  if (noPower.length > 0) {
    return { ok: false, reason: `nvidia-smi gives no power.draw for GPU ${noPower.map((g) => g.index).join(",")}` };
  }
  const wanted = new Set(gpus.map((g) => g.uuid));
  const latest = new Map<string, TimedSmiReading>();
  const sampler = startSmiSampler({
    ...command,
    intervalMs,
    now,
    onReading: (r) => {
      if (wanted.has(r.uuid)) latest.set(r.uuid, r);
    },
    onError: (err) => (options.log ?? silentLogger()).warn({ err }, "nvidia-smi sampler stopped; power readings will be missing"),
  });

  let vramBytes: number | null = null;
  let gpuProcesses: GpuProcessEntry[] | null = null;
  let appsAt = -Infinity;
  let appsInFlight: Promise<void> | null = null;
  const refreshApps = (): void => {
    if (appsInFlight !== null || now() - appsAt < (options.appsIntervalMs ?? 1000)) return;
    appsAt = now();
    appsInFlight = queryComputeApps(command)
      .then((r) => {
        gpuProcesses = r.ok
          ? r.value.filter((a) => wanted.has(a.gpuUuid)).map((a) => ({ pid: a.pid, usedBytes: a.usedMemoryBytes, gpuUuid: a.gpuUuid }))
          : null;
        vramBytes = gpuProcesses === null ? null : (gpuMemoryOfPids(gpuProcesses, ownPids) ?? 0);
      })
      .finally(() => {
        appsInFlight = null;
      });
  };

  let closed = false;
  return {
    ok: true,
    source: {
      kind: "nvidia-smi",
      description: `nvidia-smi: ${gpus.length} GPU (${gpus.map((g) => g.name).join(", ")})`,
      async read(): Promise<PowerReading> {
        refreshApps();
        const t = now();
        const fresh = [...wanted].map((u) => latest.get(u)).filter((r) => r !== undefined && t - r.tMs <= intervalMs * (options.staleAfterIntervals ?? 10));
        const complete = fresh.length === wanted.size && fresh.every((r) => r?.powerWatts !== null);
        return {
          tMs: complete ? Math.max(...fresh.map((r) => (r as TimedSmiReading).tMs)) : t,
          watts: complete ? fresh.reduce((s, r) => s + ((r as TimedSmiReading).powerWatts as number), 0) : null,
          counters: null,
          vramBytes,
          ...smiExtras(complete ? (fresh as TimedSmiReading[]) : []),
          gpuProcesses,
        };
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await sampler.stop();
        await appsInFlight;
      },
    },
  };
}

/** Utilisation (mean), temperature (max) and power limit (sum) of fresh readings; null when none or any is missing. */
function smiExtras(rs: readonly TimedSmiReading[]): Pick<PowerReading, "utilisationPercent" | "temperatureC" | "powerLimitWatts"> {
  const all = (f: (r: TimedSmiReading) => number | null): number[] | null => {
    const v = rs.map(f);
    return v.length === 0 || v.some((x) => x === null) ? null : (v as number[]);
  };
  const util = all((r) => r.utilizationGpuPercent);
  const temp = all((r) => r.temperatureC);
  const limit = all((r) => r.powerLimitWatts);
  return {
    utilisationPercent: util === null ? null : util.reduce((a, b) => a + b, 0) / util.length,
    temperatureC: temp === null ? null : Math.max(...temp),
    powerLimitWatts: limit === null ? null : limit.reduce((a, b) => a + b, 0),
  };
}
