import { readFileSync, writeFileSync } from "node:fs";

/**
 * Peak memory of the agent process during a chunk.
 *
 * RAM: process.memoryUsage.rss() sampled by the meter, plus the kernel's own
 * high-water mark (VmHWM in /proc/self/status), which also catches peaks
 * between samples. VmHWM covers the whole life of the process, so it is only
 * used when it could be reset at chunk start (writing "5" to
 * /proc/self/clear_refs, Linux 4.0+); otherwise the sampled RSS stands alone.
 * The reset is process-wide: two meters running at once in one process would
 * lower each other's VmHWM (their sampled RSS still stands).
 *
 * VRAM: the sum of GPU memory the agent's own pids hold, from the
 * per-process lists of NVML or nvidia-smi.
 *
 * The /proc files are read and written synchronously: the kernel answers
 * them from memory in microseconds, where fs/promises took four trips through
 * libuv's pool and back to the agent's main thread for each, every chunk.
 */

const KIB = 1024;

/** A "Key:   123 kB" line of /proc/<pid>/status, in bytes; null when absent. */
export function parseProcStatusBytes(text: string, key: string): number | null {
  const line = text.split("\n").find((l) => l.startsWith(`${key}:`));
  const m = line === undefined ? null : /^[^:]+:\s+(\d+)\s*kB\s*$/.exec(line);
  return m === null ? null : Number(m[1]) * KIB;
}

export async function readVmHwmBytes(statusPath = "/proc/self/status"): Promise<number | null> {
  try {
    return parseProcStatusBytes(readFileSync(statusPath, "utf8"), "VmHWM");
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS. False where the kernel or sandbox does not allow it. */
export async function resetHighWaterMark(clearRefsPath = "/proc/self/clear_refs"): Promise<boolean> {
  try {
    writeFileSync(clearRefsPath, "5", { flag: "r+" }); // never create the file
    return true;
  } catch {
    return false;
  }
}

export interface PeakRamTracker {
  /** Takes one RSS sample. */
  sample(): void;
  /** Peak bytes seen since creation (VmHWM included when it was reset at start). */
  peak(): Promise<number>;
}

export async function startPeakRamTracker(
  options: { rss?: () => number; statusPath?: string; clearRefsPath?: string } = {},
): Promise<PeakRamTracker> {
  const rss = options.rss ?? (() => process.memoryUsage.rss());
  const hwmUsable = await resetHighWaterMark(options.clearRefsPath);
  let peak = rss();
  return {
    sample(): void {
      peak = Math.max(peak, rss());
    },
    async peak(): Promise<number> {
      peak = Math.max(peak, rss());
      const hwm = hwmUsable ? await readVmHwmBytes(options.statusPath) : null;
      return hwm === null ? peak : Math.max(peak, hwm);
    },
  };
}

export interface PidMemory {
  pid: number;
  usedBytes: number | null;
}

/** GPU memory held by the given pids (unknown amounts count as 0); null when none of them appears. */
export function gpuMemoryOfPids(processes: readonly PidMemory[], pids: readonly number[]): number | null {
  const own = processes.filter((p) => pids.includes(p.pid));
  if (own.length === 0) return null;
  return own.reduce((sum, p) => sum + (p.usedBytes ?? 0), 0);
}
