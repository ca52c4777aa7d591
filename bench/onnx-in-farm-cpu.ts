import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time per process and per thread over an interval, from
 * /proc/PID/task/TID/stat (utime + stime, in clock ticks), for the ONNX farm
 * bench: which of the farm's processes and threads (the agent's main,
 * onnxruntime, PNG encoder and input decoder threads, named by
 * shared/thread-name.ts; the coordinator and its pixel hasher; nats-server) spend the
 * CPU a frame costs, against the bare loop's. The processes are this one
 * (the bench's coordinator) and its children (nats-server, the agent's
 * process). Linux only: elsewhere the snapshot is empty and so is the
 * account.
 */

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

/** Ticks per "process role / thread group" at one moment. */
export type CpuSnapshot = Map<string, number>;

interface TaskStat {
  comm: string;
  ppid: number;
  ticks: number;
}

function readStat(path: string): TaskStat | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined; // the task ended between listing and reading
  }
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  // Fields after the comm, from state (field 3): ppid is field 4, utime 14, stime 15.
  return { comm: text.slice(text.indexOf("(") + 1, close), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** The role of one of the bench's processes: the bench itself holds the coordinator. */
function processRole(pid: number, comm: string): string {
  if (pid === process.pid) return "coordinator";
  if (comm.startsWith("nats-server")) return "nats-server";
  if (comm === "node" || comm.startsWith("node")) return "agent";
  return comm;
}

/** Every thread of this process and its children, summed by "role/thread", where thread is main, a worker's name, or other. */
export function cpuSnapshot(): CpuSnapshot {
  const snap: CpuSnapshot = new Map();
  const pids = [process.pid];
  for (const entry of listDir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(`/proc/${entry}/stat`);
    if (st?.ppid === process.pid) pids.push(Number(entry));
  }
  for (const pid of pids) {
    const proc = readStat(`/proc/${pid}/stat`);
    if (proc === undefined) continue;
    const role = processRole(pid, proc.comm);
    for (const tid of listDir(`/proc/${pid}/task`)) {
      const st = readStat(`/proc/${pid}/task/${tid}/stat`);
      if (st === undefined) continue;
      const thread = Number(tid) === pid ? "main" : st.comm.startsWith("ns-") ? st.comm : "other";
      const key = `${role}/${thread}`;
      snap.set(key, (snap.get(key) ?? 0) + st.ticks);
    }
  }
  return snap;
}

/** CPU ms per frame by "role/thread" between two snapshots, with per-role and overall totals; threads started in between count from zero. */
export function cpuPerFrame(before: CpuSnapshot, after: CpuSnapshot, frames: number): { msPerFrame: Record<string, number>; byProcess: Record<string, number>; totalMsPerFrame: number } {
  const ms = (ticks: number): number => Math.round(((ticks * 1000) / TICKS_PER_SECOND / frames) * 100) / 100;
  const msPerFrame: Record<string, number> = {};
  const byProcess: Record<string, number> = {};
  let total = 0;
  for (const [key, ticks] of [...after.entries()].sort()) {
    const d = ticks - (before.get(key) ?? 0);
    if (d <= 0) continue;
    msPerFrame[key] = ms(d);
    const role = key.slice(0, key.indexOf("/"));
    byProcess[role] = (byProcess[role] ?? 0) + d;
    total += d;
  }
  for (const role of Object.keys(byProcess)) byProcess[role] = ms(byProcess[role]!);
  return { msPerFrame, byProcess, totalMsPerFrame: ms(total) };
}
