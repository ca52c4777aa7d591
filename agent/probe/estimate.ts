import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { BadInputError } from "../../shared/errors.ts";

/**
 * The "estimate" power source, for nodes with nothing to measure: watts =
 * idleWatts + (maxWatts - idleWatts) x CPU utilisation. Always labelled
 * "estimate"; it is a model, not a measurement.
 *
 * DEFAULT_CPU_ESTIMATE is a guess for a desktop-class CPU-only machine at the
 * wall (board, RAM, disks and power-supply loss included): 40 W idle, 150 W
 * with every core busy. Configure real figures (a wall-plug meter reading, or
 * the vendor's idle and TDP numbers) for anything that matters.
 */

export interface EstimateConfig {
  idleWatts: number;
  maxWatts: number;
}

export const DEFAULT_CPU_ESTIMATE: Readonly<EstimateConfig> = { idleWatts: 40, maxWatts: 150 };

export function checkEstimateConfig(c: EstimateConfig, field = "power.estimate"): EstimateConfig {
  if (!Number.isFinite(c.idleWatts) || c.idleWatts < 0) {
    throw new BadInputError(`${field}.idleWatts must be a number >= 0`, { field: `${field}.idleWatts` });
  }
  if (!Number.isFinite(c.maxWatts) || c.maxWatts < c.idleWatts) {
    throw new BadInputError(`${field}.maxWatts must be a number >= idleWatts`, { field: `${field}.maxWatts` });
  }
  return c;
}

/** Linear model; utilisation is clamped to [0, 1]. */
export function estimateWatts(c: EstimateConfig, utilisation: number): number {
  const u = Number.isFinite(utilisation) ? Math.min(1, Math.max(0, utilisation)) : 0;
  return c.idleWatts + (c.maxWatts - c.idleWatts) * u;
}

export interface CpuTimes {
  /** idle + iowait jiffies. */
  idle: number;
  /** All jiffies. */
  total: number;
}

/** The aggregate "cpu " line of /proc/stat; null when absent. */
export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (line === undefined) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 4 || v.some((n) => !Number.isFinite(n))) return null;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user/nice.
  const fields = v.slice(0, 8);
  const total = fields.reduce((s, n) => s + n, 0);
  const idle = (v[3] as number) + (v[4] ?? 0);
  return { idle, total };
}

/** Busy fraction between two /proc/stat readings; null when no time passed. */
export function utilisationBetween(a: CpuTimes, b: CpuTimes): number | null {
  const total = b.total - a.total;
  if (!(total > 0)) return null;
  return Math.min(1, Math.max(0, 1 - (b.idle - a.idle) / total));
}

export interface CpuUtilisationMeter {
  readonly basis: "system" | "process";
  /** Busy fraction (0-1) since the previous call (or since creation); null when unreadable. */
  read(): Promise<number | null>;
}

/**
 * Whole-machine utilisation from /proc/stat where it exists (the machine's
 * draw depends on every process), otherwise this process's own CPU time
 * (process.cpuUsage) over wall time and core count.
 */
export async function createCpuUtilisationMeter(procStatPath = "/proc/stat"): Promise<CpuUtilisationMeter> {
  // A synchronous read: /proc/stat is made by the kernel on read, never waits on a disk, and takes tens of
  // microseconds; fs/promises' open, stat, reads and close were four trips through libuv's pool, each back
  // on the agent's main thread, and a 64 KiB buffer, at every reading (10 a second while a chunk runs).
  const readStat = (): CpuTimes | null => {
    try {
      return parseProcStat(readFileSync(procStatPath, "utf8"));
    } catch {
      return null;
    }
  };
  let last = readStat();
  if (last !== null) {
    return {
      basis: "system",
      async read() {
        const next = readStat();
        if (next === null || last === null) return null;
        const u = utilisationBetween(last, next);
        last = next;
        return u;
      },
    };
  }
  const cores = availableParallelism();
  let prevCpu = process.cpuUsage();
  let prevWall = process.hrtime.bigint();
  return {
    basis: "process",
    async read() {
      const cpu = process.cpuUsage(prevCpu);
      const wall = process.hrtime.bigint();
      const wallUs = Number(wall - prevWall) / 1000;
      prevCpu = process.cpuUsage();
      prevWall = wall;
      if (!(wallUs > 0)) return null;
      return Math.min(1, (cpu.user + cpu.system) / (wallUs * cores));
    },
  };
}
