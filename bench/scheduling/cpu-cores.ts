import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { cpuPerFrame, cpuSnapshot, type CpuSnapshot } from "../onnx-in-farm-cpu.ts";

/**
 * How many of the machine's cores a bench run used, and whose: the
 * coordinator's process (this one, with its threads), nats-server and the
 * agent host processes (from /proc, onnx-in-farm-cpu.ts), and the whole
 * machine from /proc/stat (other work on it included). A run whose total is
 * near the core count was starved: its timers fire late and its messages
 * wait in queues, whatever the farm's code. Linux only: elsewhere the
 * figures are empty.
 */

export interface CoresMark {
  procs: CpuSnapshot;
  machineBusyTicks: number;
  machineTotalTicks: number;
  atMs: number;
}

export interface CoresUsed {
  /** Cores in the machine. */
  cores: number;
  /** Mean cores busy over the window, by process role (coordinator, nats-server, agent), and the bench's sum. */
  byProcess: Record<string, number>;
  bench: number;
  /** The whole machine's mean busy cores over the window (the bench and everything else on it). */
  machine: number;
}

function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    // idle and iowait are fields 4 and 5 of the cpu line.
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

export function coresMark(): CoresMark {
  const m = machineTicks();
  return { procs: cpuSnapshot(), machineBusyTicks: m.busy, machineTotalTicks: m.total, atMs: performance.now() };
}

export function coresUsed(from: CoresMark, to: CoresMark = coresMark()): CoresUsed {
  const seconds = Math.max(1e-3, (to.atMs - from.atMs) / 1000);
  // cpuPerFrame over "seconds" gives CPU ms per second of the window: / 1000 is cores.
  const per = cpuPerFrame(from.procs, to.procs, seconds);
  const byProcess: Record<string, number> = {};
  for (const [role, ms] of Object.entries(per.byProcess)) byProcess[role] = Math.round(ms) / 1000;
  const n = cpus().length;
  const totalTicks = to.machineTotalTicks - from.machineTotalTicks;
  const machine = totalTicks > 0 ? Math.round(((to.machineBusyTicks - from.machineBusyTicks) / totalTicks) * n * 100) / 100 : 0;
  return { cores: n, byProcess, bench: Math.round(per.totalMsPerFrame) / 1000, machine };
}
