import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { EventEmitter } from "node:events";
import { findNatsServer } from "../../shared/nats/find-nats-server.ts";
import { NATS_CONFIG_FILE, NATS_PID_FILE, readSavedPort, reapOrphanNats, writeNatsPidFile } from "./orphan-nats.ts";
import type { Logger } from "../../shared/log.ts";

export interface EmbeddedNatsOptions {
  /** Directory for the config, JetStream store, ports file and log. */
  dir: string;
  host?: string;
  /** 0 = ephemeral on first start; the chosen port is kept across restarts. */
  port?: number;
  binary?: string;
  log: Logger;
  /** Extra config text (authorization, TLS) appended to the generated config. */
  extraConfig?: () => string;
  /** Restart after an unexpected exit (default true). */
  supervise?: boolean;
  maxRestarts?: number;
}

/** How many times the earlier run's port is tried again, 100 ms apart, before a new port is chosen. */
const SAVED_PORT_TRIES = 20;

/**
 * Spawns and supervises a nats-server with JetStream, its store under `dir`.
 * Events: "restarted" (url), "gave-up" (error), "log-line" (one line of its log).
 */
export class EmbeddedNatsServer extends EventEmitter {
  private child: ChildProcess | undefined;
  private port: number;
  private stopping = false;
  private restarts = 0;
  private triedSavedPort = false;
  /** Tries of the earlier run's port that found it still taken (its old server just ended), up to SAVED_PORT_TRIES. */
  private savedPortBusy = 0;
  private readonly binary: string;

  constructor(private readonly opts: EmbeddedNatsOptions) {
    super();
    this.port = opts.port ?? 0;
    this.binary = findNatsServer(opts.binary);
  }

  get url(): string {
    const host = this.opts.host ?? "127.0.0.1";
    return `nats://${host === "0.0.0.0" ? "127.0.0.1" : host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<string> {
    this.stopping = false;
    mkdirSync(join(this.opts.dir, "jetstream"), { recursive: true });
    const portsDir = join(this.opts.dir, "ports");
    rmSync(portsDir, { recursive: true, force: true });
    mkdirSync(portsDir, { recursive: true });
    const configPath = join(this.opts.dir, NATS_CONFIG_FILE);
    const pidFile = join(this.opts.dir, NATS_PID_FILE);
    const reaped = await reapOrphanNats(pidFile, configPath);
    if (reaped) this.opts.log.warn({ pid: reaped }, "ended the nats-server left behind by an earlier coordinator");
    const fromSaved = this.port === 0 && !this.triedSavedPort;
    if (fromSaved) {
      this.triedSavedPort = true;
      this.port = readSavedPort(join(this.opts.dir, "port"));
    }
    writeFileSync(configPath, this.renderConfig(), { mode: 0o600 });
    const child = spawn(this.binary, ["-c", configPath, "--ports_file_dir", portsDir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child = child;
    if (child.pid) writeNatsPidFile(pidFile, child.pid);
    let stderr = "";
    let partial = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      const lines = (partial + d.toString()).split("\n");
      partial = (lines.pop() ?? "").slice(-4000);
      for (const line of lines) if (line.trim() !== "") this.emit("log-line", line);
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.once("exit", (code, signal) => this.onExit(child, code, signal));
    const port = await Promise.race([this.waitForPortsFile(portsDir, child.pid as number), exited.then(() => -1)]);
    if (port < 0) {
      if ((fromSaved || this.savedPortBusy > 0) && this.port !== 0 && /address already in use/i.test(stderr)) {
        if (this.savedPortBusy < SAVED_PORT_TRIES) {
          // The earlier run's server has just been ended (reapOrphanNats): its port may be let go a moment later.
          this.savedPortBusy++;
          await sleep(100);
          return this.start();
        }
        this.savedPortBusy = 0;
        this.opts.log.warn({ port: this.port }, "the port of the earlier run is taken; choosing a new one");
        this.port = 0;
        return this.start();
      }
      throw new Error(`nats-server exited at start: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    }
    this.port = port;
    this.savedPortBusy = 0;
    writeFileSync(join(this.opts.dir, "port"), `${port}\n`);
    this.opts.log.info({ url: this.url, pid: child.pid, store: join(this.opts.dir, "jetstream") }, "nats-server started");
    return this.url;
  }

  private renderConfig(): string {
    const host = this.opts.host ?? "127.0.0.1";
    return [
      `server_name: nightshift_embedded`,
      `listen: "${host}:${this.port === 0 ? -1 : this.port}"`,
      `jetstream {`,
      `  store_dir: ${JSON.stringify(join(this.opts.dir, "jetstream"))}`,
      `  max_memory_store: 67108864`,
      `}`,
      `max_payload: 8388608`,
      this.opts.extraConfig?.() ?? "",
      "",
    ].join("\n");
  }

  private async waitForPortsFile(dir: string, pid: number): Promise<number> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      for (const f of readdirSync(dir)) {
        if (!f.endsWith(`_${pid}.ports`)) continue;
        try {
          const info = JSON.parse(readFileSync(join(dir, f), "utf8")) as { nats?: string[] };
          const url = info.nats?.[0];
          if (url) return Number(new URL(url).port);
        } catch {
          // file still being written
        }
      }
      await sleep(25);
    }
    throw new Error("nats-server did not report its port within 15 s");
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = undefined;
    if (this.stopping || this.opts.supervise === false) return;
    this.opts.log.warn({ code, signal }, "nats-server exited unexpectedly");
    void this.restart();
  }

  private async restart(): Promise<void> {
    const max = this.opts.maxRestarts ?? 20;
    while (!this.stopping && this.restarts < max) {
      this.restarts++;
      await sleep(Math.min(200 * this.restarts, 2000));
      if (this.stopping) return;
      try {
        await this.start();
        this.emit("restarted", this.url);
        return;
      } catch (err) {
        this.opts.log.error({ err, attempt: this.restarts }, "nats-server restart failed");
      }
    }
    if (!this.stopping) this.emit("gave-up", new Error(`nats-server restarted ${this.restarts} times; giving up`));
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s). Safe to call twice. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(join(this.opts.dir, NATS_PID_FILE), { force: true });
  }
}
