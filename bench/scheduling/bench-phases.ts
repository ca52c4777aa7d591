import type { Logger } from "../../shared/log.ts";
import { BenchFarm, wallMs, type FarmRun, type FramePace } from "./bench-farm.ts";
import { rawJetStream } from "./raw-baseline.ts";
import { sleepJob, type SleepAgentSpec } from "./sleep-farm.ts";
import type { SleepClock } from "../../agent/executors/sleep-executor.ts";

export interface Sizes {
  dispatchAgents: number;
  latencySamples: number;
  throughputChunks: number;
  scalingCounts: number[];
  chunksPerAgent: number;
  mixedChunks: number;
  /** Most agents in one agent host process (bench-farm.ts). */
  agentsPerHost: number;
  /** Length of each idle window (agents up, no job) that prices the agents' idle costs. */
  idleSeconds: number;
  /** How the sleep executor times frames (agent/executors/sleep-executor.ts). */
  clock: SleepClock;
}

/**
 * A run's coordinator CPU split in two: what its agents cost while idle
 * (`idleCpuMsPerSecond`, measured with the same agents and no job, over the
 * run's makespan) and the rest, spent on the chunks (dispatch, claim,
 * upload, commit). The raw figure is kept beside them.
 */
export interface CpuSplit {
  cpuMsPerChunk: number;
  chunkCpuMsPerChunk: number;
  idleCpuMsPerAgentSecond: number;
  /** The run's tail after done (the job's end, the last commits' clean-up) above the idle rate, per agent (idle-window.ts). */
  afterRunCpuMsPerAgent: number;
}

function splitCpu(run: FarmRun, idleCpuMsPerSecond: number, agents: number, afterRunCpuMs: number): CpuSplit {
  return {
    cpuMsPerChunk: run.cpuMsPerChunk,
    chunkCpuMsPerChunk: Math.max(0, run.cpuMs - idleCpuMsPerSecond * run.seconds) / run.chunks,
    idleCpuMsPerAgentSecond: idleCpuMsPerSecond / agents,
    afterRunCpuMsPerAgent: afterRunCpuMs / agents,
  };
}

const names = (prefix: string, from: number, n: number, speed = 1): SleepAgentSpec[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}${String(from + i).padStart(2, "0")}`, speed }));

async function withFarm<T>(dir: string, pace: FramePace, log: Logger, fn: (farm: BenchFarm) => Promise<T>, agentsPerHost?: number): Promise<T> {
  const farm = await BenchFarm.start(dir, pace, log, agentsPerHost);
  try {
    return await fn(farm);
  } finally {
    await farm.stop();
  }
}

/**
 * Dispatch latency and zero-work throughput, with `dispatchAgents` idle
 * agents; then the raw JetStream baseline on the same nats-server.
 */
export async function dispatchPhase(dir: string, s: Sizes, log: Logger) {
  return withFarm(dir, { msPerFrame: 0, clock: s.clock }, log, async (farm) => {
    await farm.addAgents(names("d", 0, s.dispatchAgents));
    await farm.run(sleepJob("warm-up", s.dispatchAgents * 4, 1));
    await farm.events();
    const released = new Map<string, number>();
    for (let i = 0; i < s.latencySamples; i++) {
      const { jobId, releasedAtMs } = await farm.submitAndRelease(sleepJob(`latency-${i}`, 1, 1));
      released.set(jobId, releasedAtMs);
      await farm.coordinator.finisher.waitFor(jobId);
      await new Promise((r) => setTimeout(r, 5));
    }
    const latenciesMs: number[] = [];
    for (const e of await farm.events()) {
      const at = released.get(e.jobId);
      if (at !== undefined) latenciesMs.push(e.atMs - at);
      released.delete(e.jobId);
    }
    const idle = await farm.idleCpuMsPerSecond(s.idleSeconds);
    const t = await farm.run(sleepJob("throughput", s.throughputChunks, 1));
    const c = farm.coordinator;
    const rawPerSecond = await rawJetStream({
      natsUrl: c.natsUrl,
      jwt: c.trust.natsCoordinator.jwt,
      seed: c.trust.natsCoordinator.seed,
      caPem: c.trust.ca.certPem,
      host: farm.host,
      consumers: s.dispatchAgents,
      count: s.throughputChunks,
    });
    return { latenciesMs, chunksPerSecond: s.throughputChunks / t.seconds, throughputSeconds: t.seconds, cpu: splitCpu(t, idle, s.dispatchAgents, farm.afterRunCpuMs), mainThreadCpuMs: t.mainThreadCpuMs, windowMs: t.windowMs, claimsPerTransaction: t.claimsPerTransaction, statements: t.statements, rawPerSecond };
  }, s.agentsPerHost);
}

/** Weak scaling with 1 s chunks (4 frames x 250 ms): agents are added between runs, never removed. */
export async function scalingPhase(dir: string, s: Sizes, log: Logger) {
  return withFarm(dir, { msPerFrame: 250, clock: s.clock }, log, async (farm) => {
    const runs: Array<{ agents: number; seconds: number; cpu: CpuSplit; windowMs: [number, number]; claimsPerTransaction: number; statements: FarmRun["statements"]; split: FarmRun["split"]; cores: FarmRun["cores"]; hostLoopDelay: FarmRun["hostLoopDelay"]; idleCores: FarmRun["cores"] | undefined }> = [];
    let have = 0;
    let agentStartSeconds = 0;
    for (const n of s.scalingCounts) {
      const t0 = wallMs();
      await farm.addAgents(names("s", have, n - have));
      agentStartSeconds += (wallMs() - t0) / 1000;
      have = n;
      const r = await farm.run(sleepJob(`scale-${n}`, n * s.chunksPerAgent * 4, 4));
      const idle = await farm.idleCpuMsPerSecond(s.idleSeconds);
      runs.push({ agents: n, seconds: r.seconds, cpu: splitCpu(r, idle, n, farm.afterRunCpuMs), windowMs: r.windowMs, claimsPerTransaction: r.claimsPerTransaction, statements: r.statements, split: r.split, cores: r.cores, hostLoopDelay: r.hostLoopDelay, idleCores: farm.idleCores });
    }
    return { runs, agentStartSeconds, agentHosts: farm.hostCount };
  }, s.agentsPerHost);
}

/** Makespan on agents of speeds 1, 1, 0.5 and 0.25 (1 s chunks at 1x), cold and then warm, against work / sum of speeds. */
export async function mixedPhase(dir: string, s: Sizes, log: Logger) {
  const speeds = [1, 1, 0.5, 0.25];
  const msPerFrame = 100;
  return withFarm(dir, { msPerFrame, clock: s.clock }, log, async (farm) => {
    await farm.addAgents(speeds.map((speed, i) => ({ name: `m${i}-x${speed}`, speed })));
    const frames = s.mixedChunks * 10;
    const idealSeconds = (frames * msPerFrame) / 1000 / speeds.reduce((a, b) => a + b, 0);
    const shape = (jobId: string) => {
      const st = farm.coordinator.store;
      const perAgent: Record<string, number> = {};
      for (const f of st.frames.listByJob(jobId)) {
        const name = st.agents.get(f.agentId)?.name ?? f.agentId;
        perAgent[name] = (perAgent[name] ?? 0) + 1;
      }
      const attempts = st.db.prepare(`SELECT state, COUNT(*) AS n FROM attempts WHERE job_id = ? GROUP BY state`).all(jobId) as Array<{ state: string; n: number }>;
      return { chunksAfterCuts: st.chunks.listByJob(jobId).length, attempts: Object.fromEntries(attempts.map((a) => [a.state, a.n])), framesPerAgent: perAgent };
    };
    const cold = await farm.run(sleepJob("mixed-cold", frames, 10));
    const warm = await farm.run(sleepJob("mixed-warm", frames, 10));
    return { speeds, idealSeconds, cold: { seconds: cold.seconds, shape: shape(cold.jobId) }, warm: { seconds: warm.seconds, shape: shape(warm.jobId) } };
  });
}
