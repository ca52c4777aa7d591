import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The embedded server's files in its folder (`<data-dir>/nats`). */
export const NATS_CONFIG_FILE = "nats-server.conf";
export const NATS_PID_FILE = "nats-server.pid";

/**
 * A coordinator killed with SIGKILL leaves its nats-server child running, still
 * holding the JetStream store and the port. These helpers find that orphan by
 * the pid file the coordinator wrote and end it, but only after checking from
 * /proc that the pid is still a nats-server started with this data dir's config,
 * so an unrelated process that reused the pid is never touched.
 */
export function writeNatsPidFile(pidFile: string, pid: number): void {
  writeFileSync(pidFile, `${pid}\n`);
}

function cmdlineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return null;
  }
}

/**
 * The process has ended and let go of its files and sockets: it is gone, or a zombie with no open descriptor.
 * Only its parent's wait() removes a zombie, and an orphan's parent is init, which here took 1-1.5 s after the
 * SIGKILL: every coordinator restart after a crash waited for that before its nats-server could start. (Neither
 * an empty cmdline nor the zombie state is enough: a Go server's other threads, still exiting, hold its sockets:
 * every thread's descriptors are looked at.)
 */
export function processEnded(pid: number): boolean {
  const none = (dir: string): boolean => {
    try {
      return readdirSync(dir).length === 0;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "ENOENT";
    }
  };
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
  return threads.every((tid) => none(`/proc/${pid}/task/${tid}/fd`));
}

/** Reaps started early in this process (startReapingOrphanNats), by pid file, until the start takes the result. */
const early = new Map<string, Promise<number | null>>();

/**
 * Starts ending the orphan now: the coordinator command calls it before it loads the coordinator's modules, so that
 * the orphan's exit (0.1-0.5 s under load, thirteenth round) overlaps module loading, the store and trust rather than
 * following them. The same checks as at the start; EmbeddedNatsServer.start's reapOrphanNats waits for it and takes
 * its result.
 */
export function startReapingOrphanNats(natsDir: string): void {
  const pidFile = join(natsDir, NATS_PID_FILE);
  if (!early.has(pidFile)) early.set(pidFile, endOrphan(pidFile, join(natsDir, NATS_CONFIG_FILE)));
}

/** Ends our orphaned nats-server, if any (or takes the result of the reap started early). Returns its pid when one was ended. */
export async function reapOrphanNats(pidFile: string, configPath: string): Promise<number | null> {
  const started = early.get(pidFile);
  early.delete(pidFile);
  const endedEarly = started === undefined ? null : await started.catch(() => null);
  return endedEarly ?? endOrphan(pidFile, configPath);
}

async function endOrphan(pidFile: string, configPath: string): Promise<number | null> {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1) return null;
  const cmd = cmdlineOf(pid);
  if (!cmd || !cmd.includes("nats-server") || !cmd.includes(configPath)) return null;
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && !processEnded(pid); i++) await sleep(20);
  return pid;
}

/** The port an earlier run used, so agents reconnect to the same URL after a restart. */
export function readSavedPort(portFile: string): number {
  if (!existsSync(portFile)) return 0;
  const n = Number(readFileSync(portFile, "utf8").trim());
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : 0;
}
