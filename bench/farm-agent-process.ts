/**
 * Runs a farm benchmark's agents in a process of their own, as a studio runs
 * them: on another machine than the coordinator. With the coordinator and its
 * agents in one Node process, the coordinator's synchronous SQLite commits
 * hold the agents' event loop, and its fsyncs fill the libuv thread pool that
 * the agents' own file reads (the chunk meter's /proc reads) then wait behind;
 * neither happens between two machines. Used by bench/comfyui-farm.ts and
 * bench/farm-render.ts through fork(); speaks over IPC.
 *
 *   parent -> child: { type: "start", ... } | { type: "stop", chunks }
 *   child -> parent: { type: "started" } | { type: "stopped", chunksDone } | { type: "error", message }
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import type { Agent } from "../agent/agent.ts";
import { AgentKindsConfigSchema } from "../agent/config/agent-kinds-config.ts";
import { startEnrolledAgent, type LocalCoordinator } from "../agent/connect/enroll-local-agent.ts";
import type { EnergySource } from "../shared/accounting/chunk-accounting.ts";
import { benchLogger } from "./bench-cli.ts";

/** One agent to start: everything is plain data, so it crosses the IPC channel. */
export interface BenchAgentSpec {
  name: string;
  dataDir: string;
  modelsDir: string;
  joinToken: string;
  intraOpThreads?: number;
  energySource?: EnergySource;
  /** The agent's config `kinds` section as written in its YAML (`{ comfyui: { url } }`). */
  kinds?: unknown;
}

type ToChild = { type: "start"; coordinator: LocalCoordinator; agents: BenchAgentSpec[] } | { type: "stop"; chunks: number };
type FromChild = { type: "started" } | { type: "stopped"; chunksDone: number } | { type: "error"; message: string };

/** The parent's handle on the agents' process. */
export interface FarmAgentProcess {
  /**
   * Stops the agents once they have seen `chunks` chunks through (bounded: the coordinator can see the last
   * commit before the agent has read the upload's reply), then ends the process. Safe to call twice.
   */
  stop(chunks?: number): Promise<number>;
}

/** Forks the process and starts `agents` in it, enrolled with the coordinator at `coordinator`. */
export async function startFarmAgentProcess(coordinator: LocalCoordinator, agents: BenchAgentSpec[]): Promise<FarmAgentProcess> {
  // NIGHTSHIFT_BENCH_AGENT_CPU_PROF=DIR: V8 CPU profiles of the agents' process, one per thread, into DIR (Node refuses --cpu-prof in NODE_OPTIONS).
  const profDir = process.env.NIGHTSHIFT_BENCH_AGENT_CPU_PROF;
  const execArgv = ["--import", "tsx", ...(profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [])];
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--child"], { execArgv, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const kill = (): void => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  };
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  const next = async (): Promise<FromChild> => {
    const [m] = (await Promise.race([once(child, "message"), once(child, "exit").then(() => Promise.reject(new Error("bench agent process ended")))])) as [FromChild];
    if (m.type === "error") throw new Error(`bench agent process: ${m.message}`);
    return m;
  };
  let stopping: Promise<number> | undefined;
  const stop = (chunks = 0): Promise<number> =>
    (stopping ??= (async () => {
      if (child.exitCode !== null) return 0;
      const exited = once(child, "exit");
      const timer = setTimeout(kill, 30_000);
      try {
        child.send({ type: "stop", chunks } satisfies ToChild);
        const m = await next().catch(() => null);
        await exited;
        return m?.type === "stopped" ? m.chunksDone : 0;
      } finally {
        clearTimeout(timer);
      }
    })());
  try {
    child.send({ type: "start", coordinator, agents } satisfies ToChild);
    const m = await next();
    if (m.type !== "started") throw new Error(`bench agent process said ${m.type} first`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

async function childMain(): Promise<void> {
  const log = benchLogger("bench-agents");
  const agents: Agent[] = [];
  const send = (m: FromChild): Promise<void> => new Promise((resolve) => (process.send ? process.send(m, undefined, undefined, () => resolve()) : resolve()));
  const stopAll = async (): Promise<void> => {
    for (const a of agents.splice(0)) await a.stop().catch(() => undefined);
  };
  process.on("disconnect", () => void stopAll().finally(() => process.exit(0)));
  process.on("message", (m: ToChild) => {
    if (m.type === "start") {
      void (async () => {
        for (const a of m.agents) {
          agents.push(
            await startEnrolledAgent(m.coordinator, a.joinToken, {
              name: a.name,
              dataDir: a.dataDir,
              modelsDir: a.modelsDir,
              ...(a.intraOpThreads === undefined ? {} : { intraOpThreads: a.intraOpThreads }),
              ...(a.energySource === undefined ? {} : { energySource: a.energySource }),
              ...(a.kinds === undefined ? {} : { kinds: AgentKindsConfigSchema.parse(a.kinds) }),
              log: log.child({ role: "agent", agent: a.name }),
            }),
          );
        }
        await send({ type: "started" });
      })().catch((err: unknown) => send({ type: "error", message: (err as Error).message }));
      return;
    }
    void (async () => {
      const done = (): number => agents.reduce((n, a) => n + a.chunksDone, 0);
      for (let i = 0; i < 500 && done() < m.chunks; i++) await sleep(10);
      const chunksDone = done();
      await stopAll();
      await send({ type: "stopped", chunksDone });
    })().finally(() => process.exit(0));
  });
}

if (process.argv[2] === "--child") void childMain();
