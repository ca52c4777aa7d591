import { join } from "node:path";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { submitJob } from "../../coordinator/jobs/submit-job.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import type { Logger } from "../../shared/log.ts";
import { AgentHost } from "./host-client.ts";
import { hostMs, type LoopDelay, type StartEvent } from "./host-protocol.ts";
import type { SleepAgentSpec } from "./sleep-farm.ts";
import type { SleepClock } from "../../agent/executors/sleep-executor.ts";
import { coresMark, coresUsed, type CoresUsed } from "./cpu-cores.ts";
import { IDLE_SETTLE_MS, measureIdleWindow } from "./idle-window.ts";
import { splitMakespan, type MakespanSplit } from "./makespan-split.ts";
import { countingSql, countStatements, type StatementCount } from "./statement-counter.ts";
import { threadCpuMs } from "./main-thread-cpu.ts";

/** Sub-ms time comparable across the bench's processes (host-protocol.ts). */
export const wallMs = hostMs;

/** One bench job run to the end (BenchFarm.run). */
export interface FarmRun {
  jobId: string;
  chunks: number;
  seconds: number;
  /** The coordinator process's CPU (user + system) from release to done, ms; and that over the chunks. */
  cpuMs: number;
  cpuMsPerChunk: number;
  /** The same for the coordinator's main thread alone (its event loop), ms; undefined off Linux (main-thread-cpu.ts). */
  mainThreadCpuMs: number | undefined;
  /** Release and done on the host clock (hostMs). */
  windowMs: [number, number];
  /** Claims committed during the run over the transactions that held them (claims of one event-loop turn share one). */
  claimsPerTransaction: number;
  /** SQLite statements and transactions over the run, per chunk (only with NIGHTSHIFT_BENCH_COUNT_SQL=1: statement-counter.ts). */
  statements?: StatementCount;
  /** Where the makespan went (makespan-split.ts): executors' work, ramp-up, gaps between chunks, tail. */
  split: MakespanSplit;
  /** Cores the bench's processes and the whole machine used over the run (cpu-cores.ts). */
  cores: CoresUsed;
  /** The agent hosts' event loop lateness from release to done: the worst host's p99 and max, ms. */
  hostLoopDelay: LoopDelay;
}

/** The sleep executor's frame time at speed 1 and how it times frames (agent/executors/sleep-executor.ts). */
export interface FramePace {
  msPerFrame: number;
  clock: SleepClock;
}

/** Default most agents per agent host process (`--agents-per-host`). */
export const DEFAULT_AGENTS_PER_HOST = 32;

/**
 * One benchmark farm: a real coordinator in this process (embedded
 * nats-server, store, gRPC) and its agents in child processes, at most
 * `agentsPerHost` each (a studio's agents are other machines: one process
 * holding 256 agents' connections and heartbeats would measure its own
 * event loop, not the coordinator).
 */
export class BenchFarm {
  private readonly token: string;
  private started = 0;
  /** Cores the bench's processes used over the last idle window (idleCpuMsPerSecond): what idle agents cost their hosts. */
  idleCores: CoresUsed | undefined;
  /** The coordinator's CPU between the last run's end and its idle window, above the idle rate, ms (idle-window.ts). */
  afterRunCpuMs = 0;
  /** The agent host processes; the first also runs the raw baseline's consumers. */
  private readonly hosts: Array<{ host: AgentHost; agents: number }>;

  private constructor(
    readonly coordinator: Coordinator,
    first: AgentHost,
    private readonly dir: string,
    private readonly pace: FramePace,
    private readonly agentsPerHost: number,
  ) {
    this.token = coordinator.trust.tokens.create({ ttlMs: 6 * 3600_000, multiUse: true, label: "bench" }).token;
    this.hosts = [{ host: first, agents: 0 }];
  }

  static async start(dir: string, pace: FramePace, log: Logger, agentsPerHost = DEFAULT_AGENTS_PER_HOST): Promise<BenchFarm> {
    const config = compileCoordinatorConfig(
      { dataDir: join(dir, "coordinator"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" },
      BUNDLED_MODELS_DIR,
    );
    const coordinator = await Coordinator.start(config, log.child({ role: "coordinator" }));
    return new BenchFarm(coordinator, AgentHost.start(), dir, pace, agentsPerHost);
  }

  /** The first agent host (the raw baseline's consumers run there). */
  get host(): AgentHost {
    return (this.hosts[0] as { host: AgentHost }).host;
  }

  get hostCount(): number {
    return this.hosts.length;
  }

  /**
   * Starts agents, filling each host process up to agentsPerHost before a new
   * one is forked. One host at a time, as each host enrolls one agent at a
   * time (agent-host.ts: an enrollment reloads the nats-server's users).
   */
  async addAgents(specs: SleepAgentSpec[]): Promise<void> {
    const c = this.coordinator;
    for (let i = 0; i < specs.length; ) {
      let slot = this.hosts.find((h) => h.agents < this.agentsPerHost);
      if (!slot) {
        slot = { host: AgentHost.start(), agents: 0 };
        this.hosts.push(slot);
      }
      const take = specs.slice(i, i + this.agentsPerHost - slot.agents);
      slot.agents += take.length;
      i += take.length;
      await slot.host.request(
        { type: "start-agents", coordinator: c.joinPoint, joinToken: this.token, dir: join(this.dir, "agents"), pace: this.pace, agents: take },
        "agents-started",
        300_000,
      );
    }
    this.started += specs.length;
    // Every agent online and heard from (heartbeats carry its state to the scheduler).
    for (let i = 0; i < 200; i++) {
      const online = c.store.agents.list().filter((a) => a.state === "online").length;
      if (online >= this.started && c.registry.live.size >= this.started) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`only ${c.registry.live.size} of ${this.started} agents heard from`);
  }

  /**
   * Records a job without dispatching it, then releases it: returns the job id
   * and the wall-clock time of the release ("chunk ready"). The dispatcher is
   * kicked by the release; nothing can run between the record and it.
   */
  async submitAndRelease(spec: Record<string, unknown>): Promise<{ jobId: string; releasedAtMs: number }> {
    const c = this.coordinator;
    const { jobId } = await submitJob({ store: c.store, outputRoot: c.config.outputRoot, modelsDir: c.config.modelsDir, clock: Date.now }, spec, this.dir);
    const releasedAtMs = wallMs();
    c.api.resume(jobId);
    return { jobId, releasedAtMs };
  }

  /**
   * Runs a job to the end; returns its makespan from release to done, seconds,
   * the CPU time (user + system) this process (the coordinator; the agents
   * run in the host processes) spent meanwhile, in all and per chunk of the
   * job, and the run's window on the host clock (to cut a --cpu-prof to it).
   */
  async run(spec: Record<string, unknown>): Promise<FarmRun> {
    const cores0 = coresMark();
    const cpu0 = process.cpuUsage();
    const main0 = threadCpuMs();
    const claims0 = this.coordinator.claimBatches;
    const counting = countingSql() ? countStatements(this.coordinator.store) : undefined;
    await this.hostEvents(); // restarts the hosts' loop delay figures at the release
    const { jobId, releasedAtMs } = await this.submitAndRelease(spec);
    const job = await this.coordinator.finisher.waitFor(jobId);
    const endMs = wallMs();
    const cpu = process.cpuUsage(cpu0);
    const main1 = threadCpuMs();
    const cores = coresUsed(cores0);
    const chunks = Math.max(1, this.coordinator.store.chunks.counts(jobId).total);
    const statements = counting?.(chunks);
    if (job.state !== "done") throw new Error(`bench job ${jobId} ended ${job.state}: ${job.message ?? ""}`);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const claims = this.coordinator.claimBatches;
    const claimsPerTransaction = (claims.writes - claims0.writes) / Math.max(1, claims.batches - claims0.batches);
    const { events, loopDelay } = await this.hostEvents();
    const split = this.split(jobId, releasedAtMs, endMs, events);
    return { jobId, chunks, seconds: (endMs - releasedAtMs) / 1000, cpuMs, cpuMsPerChunk: cpuMs / chunks, mainThreadCpuMs: main0 === undefined || main1 === undefined ? undefined : main1 - main0, windowMs: [releasedAtMs, endMs], claimsPerTransaction, ...(statements && { statements }), split, cores, hostLoopDelay: worst(loopDelay) };
  }

  /** The job's executor spans (from the agent hosts) and attempt rows (the store's clock moved to the host clock), split. */
  private split(jobId: string, releaseMs: number, doneMs: number, events: readonly StartEvent[]): MakespanSplit {
    const st = this.coordinator.store;
    const toHost = hostMs() - Date.now();
    const rows = st.db.prepare(`SELECT id, state, created_at AS c, finished_at AS f FROM attempts WHERE job_id = ?`).all(jobId) as Array<{ id: string; state: string; c: number; f: number | null }>;
    const spans = events.filter((e) => e.jobId === jobId);
    return splitMakespan({
      releaseMs,
      doneMs,
      agents: st.agents.list().filter((a) => a.state === "online").map((a) => a.name),
      spans: spans.map((e) => ({ agent: e.agent, attemptId: e.attemptId, startMs: e.atMs, frames: e.frames, ...(e.endMs !== undefined && { endMs: e.endMs }) })),
      attempts: rows.map((r) => ({ id: r.id, state: r.state, claimedMs: r.c + toHost, finishedMs: r.f === null ? null : r.f + toHost })),
      msPerFrame: this.pace.msPerFrame,
    });
  }

  /**
   * The coordinator's CPU per second with every agent up and no job
   * (heartbeats, telemetry, sweeps, the dispatcher's tick): what a run pays
   * for its agents whatever its chunks. Measured over `seconds` once the
   * run's tail has settled, with every agent's streams open and idle
   * (idle-window.ts); that tail's own CPU is kept in `afterRunCpuMs`.
   */
  async idleCpuMsPerSecond(seconds: number): Promise<number> {
    const w = await measureIdleWindow(seconds, IDLE_SETTLE_MS, { start: coresMark, end: (m) => coresUsed(m) });
    this.idleCores = w.around;
    this.afterRunCpuMs = w.afterRunCpuMs;
    return w.cpuMsPerSecond;
  }

  async events(): Promise<StartEvent[]> {
    return (await this.hostEvents()).events;
  }

  /** Every host's start events since the last call, and each host's loop delay meanwhile. */
  private async hostEvents(): Promise<{ events: StartEvent[]; loopDelay: LoopDelay[] }> {
    const all = await Promise.all(this.hosts.map((h) => h.host.request({ type: "events" }, "events", 30_000)));
    return { events: all.flatMap((r) => r.events), loopDelay: all.map((r) => r.loopDelay) };
  }

  async stop(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.host.stop()));
    await this.coordinator.stop();
  }
}

/** The worst of the hosts' loop delays, figure by figure. */
function worst(delays: readonly LoopDelay[]): LoopDelay {
  return { p50Ms: Math.max(0, ...delays.map((d) => d.p50Ms)), p99Ms: Math.max(0, ...delays.map((d) => d.p99Ms)), maxMs: Math.max(0, ...delays.map((d) => d.maxMs)) };
}
