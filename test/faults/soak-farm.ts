import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCli, type CliProcess } from "../support/cli-process.ts";
import type { Lan, LanHost } from "../lan/netns.ts";

/** Runs one CLI command to completion (in a namespace when given) and returns its output. */
export async function cliOnce(args: string[], netns?: string, timeoutMs = 60_000, compiled?: string): Promise<{ code: number | null; out: string }> {
  const p = startCli(args, { ...(netns ? { netns } : {}), ...(compiled ? { compiled } : {}), env: { NIGHTSHIFT_LOG_LEVEL: "warn" } });
  keepLog(args[0] ?? "cli", p);
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, out: p.output() };
}

let logSeq = 0;

/** With SOAK_LOG_DIR set, writes the process's output there once it ends (debugging a soak). */
function keepLog(role: string, p: CliProcess): void {
  const dir = process.env.SOAK_LOG_DIR;
  if (!dir) return;
  const file = join(dir, `${String(++logSeq).padStart(3, "0")}-${role}-${p.pid}.log`);
  void p.exited.then(() => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, p.output());
  });
}

/**
 * The farm under test: one coordinator and N agents as real CLI processes,
 * each on its own namespace host when a Lan is given, else on loopback.
 * Processes are ended only by their own pids.
 */
export class SoakFarm {
  coordinator: CliProcess | undefined;
  readonly agents: Array<CliProcess | undefined>;
  token = "";
  caFingerprint = "";
  /** Coordinator exits nobody asked for (a crash): each is a soak failure; it is restarted after 3 s, as systemd would. */
  readonly crashes: string[] = [];
  private planned = false;
  private stopping = false;

  constructor(
    readonly dir: string,
    readonly agentCount: number,
    readonly port: number,
    readonly lan: Lan | undefined,
    /** A coordinator config file (YAML) the coordinator starts with: the cluster soak's NATS list and natsStudioAuth. */
    readonly configFile?: string,
    /** A compiled CLI's main.js (test/support/compiled-cli.ts) every process runs, as a release does; else the TypeScript through tsx. */
    readonly compiled?: string,
  ) {
    this.agents = Array.from({ length: agentCount }, () => undefined);
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get outputRoot(): string {
    return join(this.dir, "output");
  }

  private coordinatorHost(): LanHost | undefined {
    return this.lan?.hosts[0];
  }

  agentHost(i: number): LanHost | undefined {
    return this.lan?.hosts[i + 1];
  }

  get address(): string {
    return `${this.coordinatorHost()?.ip ?? "127.0.0.1"}:${this.port}`;
  }

  get coordinatorNs(): string | undefined {
    return this.coordinatorHost()?.ns;
  }

  async startCoordinator(): Promise<void> {
    if (this.stopping) throw new Error("the soak is stopping: no coordinator started");
    const args = ["coordinator", "--data-dir", this.dataDir, "--output-root", this.outputRoot, "--listen", this.address, ...(this.configFile ? ["--config", this.configFile] : [])];
    const host = this.coordinatorHost();
    if (host) args.push("--mdns-interface", host.ip);
    const p = startCli(args, { ...(host ? { netns: host.ns } : {}), ...(this.compiled ? { compiled: this.compiled } : {}), ...logLevel() });
    this.coordinator = p;
    this.planned = false;
    keepLog("coordinator", p);
    void p.exited.then(async ({ code, signal }) => {
      if (this.planned || this.stopping || this.coordinator !== p) return;
      const tail = p.output().trim().split("\n").slice(-3).join(" | ");
      this.crashes.push(`coordinator ${p.pid} exited by itself (code ${code}, signal ${signal}): ${tail.slice(0, 600)}`);
      await new Promise((r) => setTimeout(r, 3000));
      if (!this.stopping && this.coordinator === p) await this.startCoordinator().catch((err: unknown) => this.crashes.push(`restart failed: ${String(err)}`));
    });
    await p.waitFor(/coordinator listening/, 60_000);
  }

  /**
   * Where the running coordinator's start-up went, ms per step, from its "coordinator ready" log line
   * (coordinator/start-up-steps.ts; "launch" is Node and module loading); {} when its log has none (JSON logs only).
   */
  coordinatorStartUpMs(): Record<string, number> {
    const line = (this.coordinator?.output() ?? "").split("\n").reverse().find((l) => l.includes('"coordinator ready"'));
    if (!line) return {};
    try {
      return (JSON.parse(line) as { startUpMs?: Record<string, number> }).startUpMs ?? {};
    } catch {
      return {};
    }
  }

  /**
   * When the running coordinator logged its NATS connection back after `after` (ms since the epoch; its JSON log's
   * time), or undefined.
   */
  natsBackAfter(after: number): number | undefined {
    for (const line of (this.coordinator?.output() ?? "").split("\n")) {
      if (!line.includes('"NATS connection back')) continue;
      try {
        const time = (JSON.parse(line) as { time?: number }).time;
        if (time !== undefined && time > after) return time;
      } catch {
        // not a JSON line
      }
    }
    return undefined;
  }

  /** SIGKILLs the coordinator on purpose (a planned fault) and waits until it is gone. */
  async killCoordinator(): Promise<void> {
    this.planned = true;
    this.coordinator?.kill("SIGKILL");
    await this.coordinator?.exited;
  }

  async createToken(): Promise<void> {
    const r = await cliOnce(["token", "create", "--data-dir", this.dataDir, "--multi-use", "--ttl", "2h", "--json"], this.coordinatorNs, 60_000, this.compiled);
    if (r.code !== 0) throw new Error(`token create failed: ${r.out}`);
    const parsed = JSON.parse(r.out.slice(r.out.indexOf("{"))) as { token: string; caFingerprint: string };
    this.token = parsed.token;
    this.caFingerprint = parsed.caFingerprint;
  }

  async startAgent(i: number): Promise<void> {
    if (this.stopping) throw new Error("the soak is stopping: no agent started");
    const host = this.agentHost(i);
    const args = [
      "agent", "--coordinator", this.address, "--join-token", this.token, "--ca-fingerprint", this.caFingerprint, "--name", `agent-${i + 1}`,
      "--data-dir", join(this.dir, `agent-${i + 1}`), "--energy-source", "estimate",
    ];
    if (host) args.push("--mdns-interface", host.ip);
    const p = startCli(args, { ...(host ? { netns: host.ns } : {}), ...(this.compiled ? { compiled: this.compiled } : {}), ...logLevel() });
    keepLog(`agent-${i + 1}`, p);
    this.agents[i] = p;
    await p.waitFor(/agent \S+ running/, 60_000);
  }

  agentAlive(i: number): boolean {
    const p = this.agents[i];
    return !!p && p.child.exitCode === null && p.child.signalCode === null;
  }

  async submit(jobFile: string): Promise<string> {
    const r = await cliOnce(["submit", jobFile, "--data-dir", this.dataDir, "--json"], this.coordinatorNs, 60_000, this.compiled);
    if (r.code !== 0) throw new Error(`submit failed: ${r.out}`);
    return (JSON.parse(r.out.slice(r.out.indexOf("{"))) as { jobId: string }).jobId;
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const a of this.agents) await a?.stop(3000);
    await this.coordinator?.stop(8000);
  }
}

/** The soak's own NIGHTSHIFT_LOG_LEVEL, when set, reaches the farm's processes. */
function logLevel(): { env?: Record<string, string> } {
  const level = process.env.NIGHTSHIFT_LOG_LEVEL;
  return level ? { env: { NIGHTSHIFT_LOG_LEVEL: level } } : {};
}
