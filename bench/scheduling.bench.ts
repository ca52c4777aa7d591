/**
 * Scheduling benchmark: the orchestration itself, with real NATS and a real
 * coordinator, and agents (in child processes) whose executor only sleeps a
 * controlled time per frame (agent/executors/sleep-executor.ts).
 *
 *   npm run bench:scheduling [-- --quick] [-- --dir PARENT | --disk] [-- --agents 1,64,128,256] [-- --agents-per-host 32] [-- --phases scaling] [-- --gpu-clock absolute|per-frame]
 *
 * Prints one JSON object: dispatch latency (chunk ready -> executor start,
 * idle agents), chunks per second with a zero-work executor against raw
 * JetStream publish-and-consume of the same number of messages in the same
 * run, weak-scaling efficiency at 1..64 agents with 1 s chunks, and the
 * makespan on mixed-speed agents against the ideal (work / sum of speeds).
 * The store and the output root go to PARENT (default /dev/shm when present,
 * so that disk fsync latency is not what is measured; its file system and a
 * measured SQLite commit time are reported; `--disk` picks a directory on a
 * real disk instead, the OS temp dir or else the working directory, whichever
 * is not tmpfs: the fsyncs of the delivery rule then cost what they cost in a
 * studio; `environment.storeParent` names the one used). `--agents` replaces the agent
 * counts of the scaling phase (1 is always run first: it is the baseline);
 * `--phases` runs only the named phases (dispatch, scaling, mixed), e.g. to
 * profile one of them with `node --cpu-prof`. Agents run in child processes
 * of at most `--agents-per-host` (32) agents each, as a studio's agents are
 * other machines. `--gpu-clock` says how the sleep executor times frames:
 * `absolute` (the default since the thirteenth round) is a card that renders
 * a chunk's frames back to back from the chunk's start whatever the agent's
 * event loop does; `per-frame` (the executor before) times each frame from
 * when the agent asked for it, so a late host loop lengthened the "GPU" work
 * itself. The JSON's `executorClock` names the one used.
 *
 * The coordinator's CPU is given raw (`coordinatorCpuMsPerChunk`,
 * `scalingCpuMsPerChunk`: the process's CPU from release to done over the
 * job's chunks) and split in two: an idle window with the same agents and
 * no job prices what the agents cost whatever the chunks (heartbeats,
 * telemetry, sweeps: `...IdleCpuMsPerAgentSecond`); the run's CPU less that
 * rate over its makespan is what the chunks cost (dispatch, claim, upload,
 * commit: `...ChunkCpuMsPerChunk`).
 *
 * NIGHTSHIFT_BENCH_COUNT_SQL=1 adds the SQLite statements and transactions
 * per chunk of each run, and the most run statements (`sqlStatements`;
 * scheduling/statement-counter.ts). Counting costs CPU: take the CPU figures
 * from a run without it.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BadInputError } from "../shared/errors.ts";
import { benchLogger, fileSystemType, intFlag, intListFlag, parentDirFlag, percentile, round, runBench, withTempDir } from "./bench-cli.ts";
import { measureCommitMs } from "./scheduling/bench-stats.ts";
import { dispatchPhase, mixedPhase, scalingPhase, type Sizes } from "./scheduling/bench-phases.ts";
import { DEFAULT_AGENTS_PER_HOST } from "./scheduling/bench-farm.ts";
import type { SleepClock } from "../agent/executors/sleep-executor.ts";

const FULL: Sizes = { dispatchAgents: 16, latencySamples: 200, throughputChunks: 2000, scalingCounts: [1, 2, 4, 8, 16, 32, 64], chunksPerAgent: 4, mixedChunks: 60, agentsPerHost: DEFAULT_AGENTS_PER_HOST, idleSeconds: 3, clock: "absolute" };
const QUICK: Sizes = { dispatchAgents: 8, latencySamples: 40, throughputChunks: 300, scalingCounts: [1, 2, 4, 8, 16, 32, 64], chunksPerAgent: 2, mixedChunks: 20, agentsPerHost: DEFAULT_AGENTS_PER_HOST, idleSeconds: 2, clock: "absolute" };

const PHASES = ["dispatch", "scaling", "mixed"] as const;
type Phase = (typeof PHASES)[number];

interface Args {
  quick: boolean;
  dir: string | undefined;
  /** --disk: the store on a real disk (not tmpfs). */
  disk: boolean;
  agents: number[] | undefined;
  agentsPerHost: number | undefined;
  phases: ReadonlySet<Phase>;
  /** --gpu-clock: how the sleep executor times frames (agent/executors/sleep-executor.ts). */
  clock: SleepClock | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let disk = false;
  let dir = "";
  let agents: number[] | undefined;
  let agentsPerHost: number | undefined;
  let phases: ReadonlySet<Phase> = new Set(PHASES);
  let clock: SleepClock | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = argv[i + 1];
    if (a === "--quick") quick = true;
    else if (a === "--disk") disk = true;
    else if (a === "--dir" && value !== undefined) dir = argv[++i] as string;
    else if (a === "--agents" && value !== undefined) {
      i++;
      const counts = intListFlag("agents", value, 1, 512);
      agents = [...new Set([1, ...counts])].sort((x, y) => x - y);
    } else if (a === "--agents-per-host" && value !== undefined) {
      i++;
      agentsPerHost = intFlag("agents-per-host", value, 1, 512);
    } else if (a === "--phases" && value !== undefined) {
      i++;
      const names = value.split(",").map((p) => p.trim());
      const bad = names.find((n) => !(PHASES as readonly string[]).includes(n));
      if (bad !== undefined) throw new BadInputError(`--phases: unknown phase '${bad}' (use ${PHASES.join(", ")})`, { field: "phases" });
      phases = new Set(names as Phase[]);
    } else if (a === "--gpu-clock" && value !== undefined) {
      i++;
      if (value !== "absolute" && value !== "per-frame") throw new BadInputError(`--gpu-clock: '${value}' (use absolute or per-frame)`, { field: "gpu-clock" });
      clock = value;
    } else throw new BadInputError(`arguments: unknown or incomplete '${a}' (use --quick, --dir PARENT, --disk, --agents LIST, --agents-per-host N, --phases LIST, --gpu-clock absolute|per-frame)`, { field: "argv" });
  }
  if (disk && dir !== "") throw new BadInputError("--disk and --dir: give one of them", { field: "dir" });
  return { quick, dir: parentDirFlag(dir), disk, agents, agentsPerHost, phases, clock };
}

async function schedulingBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const args = parseArgs(argv);
  const sizes = { ...(args.quick ? QUICK : FULL), ...(args.agents ? { scalingCounts: args.agents } : {}), ...(args.agentsPerHost ? { agentsPerHost: args.agentsPerHost } : {}), ...(args.clock ? { clock: args.clock } : {}) };
  const parent = args.dir ?? (args.disk ? diskDir() : existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
  const log = benchLogger("bench-scheduling");
  const started = performance.now();
  return withTempDir("nightshift-bench-sched-", parent, async (dir) => {
    const commitMs = measureCommitMs(dir);
    const a = args.phases.has("dispatch") ? await dispatchPhase(join(dir, "dispatch"), sizes, log) : undefined;
    const s = args.phases.has("scaling") ? await scalingPhase(join(dir, "scaling"), sizes, log) : undefined;
    const m = args.phases.has("mixed") ? await mixedPhase(join(dir, "mixed"), sizes, log) : undefined;
    const base = s?.runs[0]?.seconds ?? NaN;
    return {
      benchmark: "scheduling",
      quick: args.quick,
      executorClock: sizes.clock,
      ...(a && {
        dispatchP50Ms: round(percentile(a.latenciesMs, 50), 2),
        dispatchP99Ms: round(percentile(a.latenciesMs, 99), 2),
        chunksPerSecond: round(a.chunksPerSecond, 1),
        rawJetStreamPerSecond: round(a.rawPerSecond, 1),
        coordinatorCpuMsPerChunk: round(a.cpu.cpuMsPerChunk, 2),
        coordinatorChunkCpuMsPerChunk: round(a.cpu.chunkCpuMsPerChunk, 2),
        coordinatorIdleCpuMsPerAgentSecond: round(a.cpu.idleCpuMsPerAgentSecond, 3),
        coordinatorAfterRunCpuMsPerAgent: round(a.cpu.afterRunCpuMsPerAgent, 3),
        ...(a.mainThreadCpuMs !== undefined && { coordinatorMainThreadCpuMsPerChunk: round(a.mainThreadCpuMs / sizes.throughputChunks, 2) }),
      }),
      ...(s && {
        scalingEfficiency: Object.fromEntries(s.runs.map((r) => [String(r.agents), round(base / r.seconds, 3)])),
        scalingCpuMsPerChunk: Object.fromEntries(s.runs.map((r) => [String(r.agents), round(r.cpu.cpuMsPerChunk, 2)])),
        scalingChunkCpuMsPerChunk: Object.fromEntries(s.runs.map((r) => [String(r.agents), round(r.cpu.chunkCpuMsPerChunk, 2)])),
        scalingIdleCpuMsPerAgentSecond: Object.fromEntries(s.runs.map((r) => [String(r.agents), round(r.cpu.idleCpuMsPerAgentSecond, 3)])),
        scalingAfterRunCpuMsPerAgent: Object.fromEntries(s.runs.map((r) => [String(r.agents), round(r.cpu.afterRunCpuMsPerAgent, 3)])),
        scalingAgentSecondsShare: Object.fromEntries(s.runs.map((r) => [String(r.agents), r.split.agentSecondsShare])),
        scalingCoresUsed: Object.fromEntries(s.runs.map((r) => [String(r.agents), { ...r.cores.byProcess, bench: r.cores.bench, machine: r.cores.machine, of: r.cores.cores }])),
        scalingHostLoopDelayMs: Object.fromEntries(s.runs.map((r) => [String(r.agents), r.hostLoopDelay])),
        scalingIdleCoresUsed: Object.fromEntries(s.runs.map((r) => [String(r.agents), r.idleCores ? { ...r.idleCores.byProcess, bench: r.idleCores.bench, machine: r.idleCores.machine } : null])),
      }),
      ...(m && { mixedMakespanRatio: round(m.cold.seconds / m.idealSeconds, 3) }),
      details: {
        ...(a && {
          dispatch: {
            agents: sizes.dispatchAgents,
            samples: a.latenciesMs.length,
            maxMs: round(Math.max(...a.latenciesMs), 2),
            meaning: "release of a 1-chunk job (store insert done, dispatcher kicked) to its executor starting on an idle agent",
          },
          throughput: {
            agents: sizes.dispatchAgents,
            chunks: sizes.throughputChunks,
            framesPerChunk: 1,
            seconds: round(a.throughputSeconds, 2),
            ratioToRaw: round(a.chunksPerSecond / a.rawPerSecond, 4),
            cpuMeaning:
              "coordinatorCpuMsPerChunk: CPU time (user + system) of the coordinator's process from release to job done, divided by the job's chunks. Split: coordinatorIdleCpuMsPerAgentSecond is the same process's CPU per second over an idle window (same agents, no job) per agent, from 0.7 s after the run with every agent's claim and upload streams open and idle (since the tenth round an agent's upload stream stays open while it runs: that is the idle cost now; in the ninth round the window began 2.7 s after the run, once every agent had closed its idle upload stream, and before it 0.3 s after the run), with the bench's /proc reads outside it; coordinatorAfterRunCpuMsPerAgent is the CPU between the run's end (here the latency samples') and that window above the idle rate, per agent (the job's end, the last commits' clean-up); coordinatorChunkCpuMsPerChunk is the run's CPU less that idle rate times the makespan, per chunk (the dispatch, claim, upload and commit path); coordinatorMainThreadCpuMsPerChunk is the CPU of the coordinator's main thread alone (its event loop, /proc/thread-self/stat) over the same window, per chunk, without the idle split: what bounds chunks per second, where the process's figure also counts libuv's pool and worker threads (tenth round)",
            windowHostMs: a.windowMs.map((x) => round(x, 1)),
            claimsPerTransaction: round(a.claimsPerTransaction, 2),
            ...(a.statements && { sqlStatements: a.statements }),
          },
        }),
        ...(s && {
          scaling: {
            chunkSeconds: 1,
            framesPerChunk: 4,
            chunksPerAgent: sizes.chunksPerAgent,
            meaning: "weak scaling: N agents, N x chunksPerAgent chunks of 1 s; efficiency = makespan(1 agent) / makespan(N agents)",
            makespans: Object.fromEntries(s.runs.map((r) => [String(r.agents), round(r.seconds, 3)])),
            cpuMeaning: "as details.throughput.cpuMeaning, per agent count; idle windows are measured after each run, once its tail settled (coordinatorAfterRunCpuMsPerAgent)",
            idleSeconds: sizes.idleSeconds,
            windowsHostMs: Object.fromEntries(s.runs.map((r) => [String(r.agents), r.windowMs.map((x) => round(x, 1))])),
            claimsPerTransaction: Object.fromEntries(s.runs.map((r) => [String(r.agents), round(r.claimsPerTransaction, 2)])),
            split: Object.fromEntries(s.runs.map((r) => [String(r.agents), r.split])),
            splitMeaning:
              "scalingAgentSecondsShare: agents x makespan split into the executors' work (first to last frame of each attempt), ramp-up (release to each agent's first start; rampUp.firstStart: its per-agent distribution), gaps (one attempt's last frame to the next's start on the same agent; claimedLate: the next claim committed only after that last frame) and tail (an agent's last frame to the job's end); work.meanOverrunMs is executor time per attempt over frames x 250 ms (late timers on a busy machine; with the absolute clock, the thirteenth round's default, only the agent seeing its frames late). scalingCoresUsed: mean cores busy over the run by process (coordinator incl. its threads, nats-server, agent hosts), the bench's sum, and the whole machine (other work included), of `of` cores; scalingIdleCoresUsed: the same over the idle window after the run (same agents, no job); scalingHostLoopDelayMs: how late the agent host processes' event loops ran from release to done (perf_hooks.monitorEventLoopDelay, the worst host's p50, p99 and max; thirteenth round): an agent's lateness that is the harness's, 32 agents sharing one loop",
            agentStartSeconds: round(s.agentStartSeconds, 1),
            agentHostProcesses: s.agentHosts,
            agentsPerHost: sizes.agentsPerHost,
            ...(s.runs.some((r) => r.statements) && { sqlStatements: Object.fromEntries(s.runs.map((r) => [String(r.agents), r.statements])) }),
          },
        }),
        ...(m && {
          mixed: {
            speeds: m.speeds,
            chunks: sizes.mixedChunks,
            framesPerChunk: 10,
            chunkSecondsAt1x: 1,
            idealSeconds: round(m.idealSeconds, 3),
            coldSeconds: round(m.cold.seconds, 3),
            warmSeconds: round(m.warm.seconds, 3),
            warmMakespanRatio: round(m.warm.seconds / m.idealSeconds, 3),
            cold: m.cold.shape,
            warm: m.warm.shape,
            meaning: "cold: no speed measured before the job; warm: the same job again, speeds known from the ledger",
          },
        }),
        environment: {
          cpus: (await import("node:os")).cpus().length,
          loadAverage1m: round((await import("node:os")).loadavg()[0] ?? 0, 2),
          node: process.version,
          storeParent: parent,
          storeFileSystem: fileSystemType(dir),
          sqliteCommitMs: round(commitMs, 3),
          benchSeconds: round((performance.now() - started) / 1000, 1),
        },
      },
    };
  });
}

/** --disk: the OS temp dir, else the working directory, whichever is first not on tmpfs. */
function diskDir(): string {
  const dir = [tmpdir(), process.cwd()].find((d) => fileSystemType(d) !== "tmpfs");
  if (dir === undefined) throw new BadInputError("--disk: the temp dir and the working directory are both on tmpfs; give --dir PARENT on a disk", { field: "disk" });
  return dir;
}

runBench(() => schedulingBench(process.argv.slice(2)));
