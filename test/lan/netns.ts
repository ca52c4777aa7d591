import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { promisify } from "node:util";

/**
 * A small studio LAN on one Linux machine, built from network namespaces (as
 * root): one namespace holds a bridge with no uplink, each host is a namespace
 * with `lo` and one veth `eth0` into that bridge, on 10.77.<s>.0/24. Nothing
 * is attached to the machine's real interfaces, so multicast and all other
 * traffic stays inside. Every name starts with `nsx-<pid>-<random>` and
 * cleanup() (also run on process exit and SIGINT/SIGTERM) removes them all.
 */

const run = promisify(execFile);

export interface LanHost {
  readonly name: string;
  /** Network namespace name: `ip netns exec <ns> ...`. */
  readonly ns: string;
  readonly ip: string;
  /** Interface inside the host namespace. */
  readonly dev: string;
  /** The host's port on the bridge; cut it to unplug the host. */
  readonly bridgePort: string;
}

export interface LanOptions {
  readonly hosts: number;
  /** Third octet of 10.77.x.0/24; the first one unused on this machine is picked when omitted. */
  readonly subnet?: number;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Reason the LAN harness cannot run here, or undefined when it can. */
export function lanUnavailableReason(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root (run the LAN tests as root)";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "the `ip` command (iproute2) is not installed";
  }
  return undefined;
}

/** Skips the test with a clear reason unless namespaces can be made; returns whether it may go on. */
export function requireRoot(t: TestContext): boolean {
  const reason = lanUnavailableReason();
  if (reason !== undefined) t.skip(reason);
  return reason === undefined;
}

export class Lan {
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private cleaned = false;
  private readonly onExit = () => this.cleanupSync();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.cleanupSync();
    process.kill(process.pid, signal);
  };

  private constructor(
    readonly prefix: string,
    readonly subnet: string,
    readonly hosts: readonly LanHost[],
    private readonly bridgeNs: string,
  ) {}

  static async create(options: LanOptions): Promise<Lan> {
    const reason = lanUnavailableReason();
    if (reason !== undefined) throw new Error(reason);
    if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 200) {
      throw new Error(`hosts must be 1-200, got ${options.hosts}`);
    }
    const third = options.subnet ?? (await freeSubnet());
    const subnet = `10.77.${third}`;
    const prefix = `nsx-${process.pid}-${randomBytes(2).toString("hex")}`;
    const hosts = Array.from({ length: options.hosts }, (_, i): LanHost => ({
      name: `host${i + 1}`,
      ns: `${prefix}-h${i + 1}`,
      ip: `${subnet}.${i + 10}`,
      dev: "eth0",
      bridgePort: `p${i + 1}`,
    }));
    const lan = new Lan(prefix, `${subnet}.0/24`, hosts, `${prefix}-br`);
    lan.registerExitHandlers();
    try {
      await lan.build();
    } catch (err) {
      await lan.cleanup();
      throw err;
    }
    return lan;
  }

  host(name: string): LanHost {
    const host = this.hosts.find((h) => h.name === name);
    if (host === undefined) throw new Error(`no host ${name} in this LAN`);
    return host;
  }

  /** Starts `command` inside the host's namespace. The child is killed by cleanup() if still running. */
  spawn(host: LanHost, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", host.ns, command, ...args], { stdio: "pipe", ...options });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** Runs a command in the host's namespace to completion (killed after timeoutMs). */
  run(host: LanHost, command: string, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
    const child = this.spawn(host, command, args);
    return collect(child, timeoutMs);
  }

  /** Unplugs the host: its bridge port goes down, so nothing reaches it or leaves it. */
  async linkDown(host: LanHost): Promise<void> {
    await ip("-n", this.bridgeNs, "link", "set", host.bridgePort, "down");
  }

  async linkUp(host: LanHost): Promise<void> {
    await ip("-n", this.bridgeNs, "link", "set", host.bridgePort, "up");
  }

  /** Kills what was started in the LAN and deletes every namespace (and so every link). Safe to call twice. */
  async cleanup(): Promise<void> {
    this.cleanupSync();
  }

  private async build(): Promise<void> {
    await this.addNamespace(this.bridgeNs);
    await ip("-n", this.bridgeNs, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    await ip("-n", this.bridgeNs, "link", "set", "br0", "up");
    for (const host of this.hosts) {
      await this.addNamespace(host.ns);
      await ip("-n", this.bridgeNs, "link", "add", host.bridgePort, "type", "veth", "peer", "name", host.dev, "netns", host.ns);
      await ip("-n", this.bridgeNs, "link", "set", host.bridgePort, "master", "br0");
      await ip("-n", this.bridgeNs, "link", "set", host.bridgePort, "up");
      await ip("-n", host.ns, "addr", "add", `${host.ip}/24`, "dev", host.dev);
      await ip("-n", host.ns, "link", "set", host.dev, "up");
    }
  }

  private async addNamespace(ns: string): Promise<void> {
    await ip("netns", "add", ns);
    this.namespaces.push(ns);
    await ip("-n", ns, "link", "set", "lo", "up");
  }

  private registerExitHandlers(): void {
    process.once("exit", this.onExit);
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
  }

  private cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    process.removeListener("exit", this.onExit);
    process.removeListener("SIGINT", this.onSignal);
    process.removeListener("SIGTERM", this.onSignal);
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    for (const ns of [...this.namespaces].reverse()) {
      killNamespacePids(ns);
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {
        // already gone; deleting the others matters more
      }
    }
    this.namespaces.length = 0;
  }
}

/** Kills processes left inside one of our own namespaces (children of children). */
function killNamespacePids(ns: string): void {
  let pids: string[] = [];
  try {
    pids = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // exited meanwhile
    }
  }
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run("ip", args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? "";
    throw new Error(`ip ${args.join(" ")} failed: ${stderr}`, { cause: err });
  }
}

/** First 10.77.x.0/24 (x from 77 up) that no route or address of this machine touches. */
async function freeSubnet(): Promise<number> {
  const { stdout: routes } = await run("ip", ["-4", "route", "show", "table", "all"]);
  const { stdout: addrs } = await run("ip", ["-4", "addr", "show"]);
  const text = `${routes}\n${addrs}`;
  if (/(^|\s)10\.77\.0\.0\/16\b/.test(text)) {
    throw new Error("this machine routes 10.77.0.0/16; pass LanOptions.subnet explicitly");
  }
  for (let third = 77; third < 77 + 100; third++) {
    if (!text.includes(`10.77.${third}.`)) return third;
  }
  throw new Error("no free 10.77.x.0/24 subnet");
}

export function collect(child: ChildProcess, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
