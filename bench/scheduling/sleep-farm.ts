import { join } from "node:path";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { compileCoordinatorConfig, type RawCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { Agent } from "../../agent/agent.ts";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { createChunkMeter } from "../../agent/probe/chunk-meter.ts";
import { createEstimateSource } from "../../agent/probe/estimate-source.ts";
import type { PowerSource } from "../../agent/probe/power-source-types.ts";
import { SleepExecutor } from "../../agent/executors/sleep-executor.ts";
import type { ExecutorTask } from "../../agent/executors/executor.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";

/** One in-process agent of a sleep farm: its relative speed and what it says about itself. */
export interface SleepAgentSpec {
  name: string;
  /** 1 = msPerFrame per frame; 0.25 = four times slower. */
  speed: number;
  tags?: string[];
  /** GPU memory it reports; 0 for an agent without a GPU. Default 24 GiB. */
  vramBytes?: number;
}

export interface SleepFarmOptions {
  dir: string;
  /** Milliseconds one frame takes at speed 1 (agent/executors/sleep-executor.ts). */
  msPerFrame: number;
  log: Logger;
  config?: Partial<RawCoordinatorConfig>;
  clock?: Clock;
  /** Called in the agent's process when its executor starts a chunk. */
  onStart?: (agentName: string, task: ExecutorTask, atMs: number) => void;
}

/**
 * A real coordinator (embedded nats-server, SQLite store, gRPC with mutual
 * TLS) and any number of real in-process agents whose executor only sleeps
 * (SleepExecutor): for benchmarks and tests of the orchestration itself. Each
 * agent enrolls with a join token like a remote one and has its own gRPC
 * channel and NATS connection. Jobs name the bundled colour-grade model (the
 * coordinator checks it); the sleep executor never loads it.
 */
export class SleepFarm {
  readonly agents: Agent[] = [];
  private readonly token: string;
  private source: PowerSource | undefined;

  private constructor(
    readonly coordinator: Coordinator,
    private readonly o: SleepFarmOptions,
  ) {
    this.token = coordinator.trust.tokens.create({ ttlMs: 6 * 3600_000, multiUse: true, label: "sleep-farm" }).token;
  }

  static async start(o: SleepFarmOptions): Promise<SleepFarm> {
    const config = compileCoordinatorConfig(
      { dataDir: join(o.dir, "coordinator"), outputRoot: join(o.dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0", ...o.config },
      BUNDLED_MODELS_DIR,
    );
    return new SleepFarm(await Coordinator.start(config, o.log.child({ role: "coordinator" }), o.clock), o);
  }

  /** Enrolls and starts agents, `parallel` at a time. */
  async addAgents(specs: readonly SleepAgentSpec[], parallel = 4): Promise<Agent[]> {
    this.source ??= await createEstimateSource();
    const source = this.source;
    const c = this.coordinator;
    const started: Agent[] = [];
    for (let i = 0; i < specs.length; i += parallel) {
      const batch = await Promise.all(
        specs.slice(i, i + parallel).map(async (s) => {
          const dataDir = join(this.o.dir, "agents", s.name);
          const log = this.o.log.child({ role: "agent", agent: s.name });
          const { credentials } = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: this.token, dataDir, name: s.name, log });
          const agent = new Agent({
            name: s.name,
            dataDir,
            modelsDir: BUNDLED_MODELS_DIR,
            coordinator: c.address,
            credentials,
            tags: s.tags ?? [],
            gpus: (s.vramBytes ?? 24 * 2 ** 30) > 0 ? [{ name: "sleep-executor card", vramBytes: s.vramBytes ?? 24 * 2 ** 30, uuid: "" }] : [],
            newMeter: () => createChunkMeter({ source, intervalMs: 1000, idleWatts: null, log }),
            drainTimeoutMs: 2000,
            log,
            executorFactory: async () =>
              new SleepExecutor({ msPerFrame: this.o.msPerFrame, speed: s.speed, ...(this.o.onStart ? { onStart: (task, at) => this.o.onStart?.(s.name, task, at) } : {}) }),
          });
          this.agents.push(agent);
          await agent.start();
          return agent;
        }),
      );
      started.push(...batch);
    }
    return started;
  }

  agent(name: string): Agent | undefined {
    return this.agents.find((a) => a.agentId !== "" && this.coordinator.store.agents.get(a.agentId)?.name === name);
  }

  /** Drains every agent (a chunk in flight finishes, or is handed back after 2 s), then stops the coordinator. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.drain().catch(() => undefined)));
    await this.coordinator.stop();
    await this.source?.close().catch(() => undefined);
    this.source = undefined;
  }
}

/** A generated-input job through the colour-grade model (the sleep executor ignores both), fixed chunks. */
export function sleepJob(name: string, frames: number, chunkSize: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    input: { type: "generated", width: 8, height: 8, frames },
    steps: [{ id: "grade", kind: "model", model: "colour-grade" }],
    chunking: { mode: "fixed", size: chunkSize },
    output: { path: "{job}", framePattern: "frame_{frame:06}.png" },
    ...extra,
  };
}
