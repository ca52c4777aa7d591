import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Who holds a data-dir lock, and whether that process still runs. The lock file records the holder's pid with the
 * kernel's start time of that pid (so a pid reused by another process after a crash is not taken for the holder),
 * the boot it ran in (so a lock left by a power cut is known dead after the reboot) and the machine (a process on
 * another machine, with the data dir on a NAS, cannot be checked from here and is taken as running).
 */
export interface LockHolder {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot), or null where there is no /proc. */
  startTicks: string | null;
  bootId: string | null;
  machineId: string | null;
  host: string;
  /** "coordinator" or "agent". */
  role: string;
  /** The holder's command line, values of secret-looking flags (a join token) left out. */
  command: string;
  /** When it took the lock (ISO time). */
  since: string;
  /** Random per take: a lock's content never comes back once removed. */
  token: string;
}

/** What a process on this machine can learn about processes and the machine itself (injected in tests). */
export interface HostFacts {
  host: string;
  machineId: string | null;
  bootId: string | null;
  /** "gone" (no such process, or a zombie that let go of everything), else its start ticks (null where unknown). */
  processStart(pid: number): { state: "gone" } | { state: "running"; startTicks: string | null };
}

/** alive: a running process holds it; dead: it can be taken over; elsewhere: held from another machine (not checkable). */
export type HolderLiveness = "alive" | "dead" | "elsewhere";

function readTrimmed(file: string): string | null {
  try {
    const text = readFileSync(file, "utf8").trim();
    return text === "" ? null : text;
  } catch {
    return null;
  }
}

/** From /proc/<pid>/stat: its state and start time; null when there is no such file. */
function procStat(pid: number): { state: string; startTicks: string } | null {
  const text = readTrimmed(`/proc/${pid}/stat`);
  if (text === null) return null;
  // The command name (field 2) is in parentheses and may hold spaces and parentheses: fields are counted after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0] ?? "", startTicks: rest[19] ?? "" };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** This machine, read from /proc and /etc where Linux has them. */
export function localHostFacts(): HostFacts {
  const hasProc = process.platform === "linux";
  return {
    host: hostname(),
    machineId: readTrimmed("/etc/machine-id"),
    bootId: hasProc ? readTrimmed("/proc/sys/kernel/random/boot_id") : null,
    processStart(pid) {
      if (!hasProc) return pidExists(pid) ? { state: "running", startTicks: null } : { state: "gone" };
      const stat = procStat(pid);
      // A zombie (Z) or dying (X) process has let go of its files; its parent has only not yet waited for it.
      if (stat === null || stat.state === "Z" || stat.state === "X") return { state: "gone" };
      return { state: "running", startTicks: stat.startTicks };
    },
  };
}

const SECRET_FLAG = /token|secret|password|key/i;

/** argv as one line, the value of any flag whose name looks secret replaced by "***" (the lock file may sit on a NAS). */
export function redactedCommand(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0 && SECRET_FLAG.test(arg.slice(0, eq))) out.push(`${arg.slice(0, eq)}=***`);
    else if (arg.startsWith("--") && eq < 0 && SECRET_FLAG.test(arg) && i + 1 < argv.length) {
      out.push(arg, "***");
      i++;
    } else out.push(arg);
  }
  return out.join(" ");
}

export function thisProcess(role: string, token: string, facts: HostFacts): LockHolder {
  const me = facts.processStart(process.pid);
  return {
    pid: process.pid,
    startTicks: me.state === "running" ? me.startTicks : null,
    bootId: facts.bootId,
    machineId: facts.machineId,
    host: facts.host,
    role,
    command: redactedCommand(process.argv),
    since: new Date().toISOString(),
    token,
  };
}

export function holderLiveness(holder: LockHolder, facts: HostFacts): HolderLiveness {
  const otherMachine = holder.host !== facts.host || (holder.machineId !== null && facts.machineId !== null && holder.machineId !== facts.machineId);
  if (otherMachine) return "elsewhere";
  if (holder.bootId !== null && facts.bootId !== null && holder.bootId !== facts.bootId) return "dead";
  const now = facts.processStart(holder.pid);
  if (now.state === "gone") return "dead";
  if (holder.startTicks !== null && now.startTicks !== null && holder.startTicks !== now.startTicks) return "dead";
  return "alive";
}

/** A lock file's text as a holder, or null when it is not one (empty after a power cut, or damaged). */
export function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isInteger(h.pid) || typeof h.host !== "string" || typeof h.token !== "string") return null;
    return {
      pid: h.pid as number,
      startTicks: typeof h.startTicks === "string" ? h.startTicks : null,
      bootId: typeof h.bootId === "string" ? h.bootId : null,
      machineId: typeof h.machineId === "string" ? h.machineId : null,
      host: h.host,
      role: typeof h.role === "string" ? h.role : "?",
      command: typeof h.command === "string" ? h.command : "?",
      since: typeof h.since === "string" ? h.since : "?",
      token: h.token,
    };
  } catch {
    return null;
  }
}
