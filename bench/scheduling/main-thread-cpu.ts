import { readFileSync } from "node:fs";

/**
 * Why this file exists: the CPU of the calling thread alone (user + system,
 * ms), where process.cpuUsage() counts every thread of the process (libuv's
 * pool, workers, V8's own). The coordinator's event loop is one thread, and
 * it is what bounds chunks per second: work moved to other threads leaves
 * it, and only this figure shows that. Linux only (/proc/thread-self/stat,
 * clock ticks of 10 ms: read over a window of seconds); undefined elsewhere.
 */
export function threadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync("/proc/thread-self/stat", "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command's closing parenthesis (the command itself may hold spaces): utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ, 100 on every Linux build Node supports (the kernel's ABI for /proc, whatever its own tick rate). */
const CLOCK_TICKS_PER_SECOND = 100;
