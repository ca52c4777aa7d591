/**
 * How much of a bare onnxruntime loop's speed survives the farm.
 *
 *   node --import tsx bench/onnx-in-farm.bench.ts [--frames 96] [--width 320 --height 180] [--dir PARENT]
 *
 * Prints one JSON object. The ratio farm/bare is measured in one run, so it
 * survives a noisy machine better than either figure alone. The bare loop runs
 * before and after the farm; the baseline is the mean of the two runs.
 *
 * Profiles: `NIGHTSHIFT_BENCH_AGENT_CPU_PROF=DIR node --cpu-prof --cpu-prof-dir=DIR --import tsx bench/onnx-in-farm.bench.ts`
 * writes V8 CPU profiles of the coordinator (this process) and the agents' process, every thread, into DIR,
 * and job-window.json (submit and done on the profiles' clock) beside them.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { BadInputError } from "../shared/errors.ts";
import { runBareOnnxLoop, type BareLoopResult } from "./bare-onnx-loop.ts";
import { benchLogger, fileSystemType, intFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { runFarmRender } from "./farm-render.ts";
import { cpuPerFrame, cpuSnapshot, type CpuSnapshot } from "./onnx-in-farm-cpu.ts";

async function onnxInFarmBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "96" }, width: { default: "320" }, height: { default: "180" }, dir: { default: "" } });
  const frames = intFlag("frames", f.frames, 1, 10_000);
  const width = intFlag("width", f.width, 16, 3840);
  const height = intFlag("height", f.height, 16, 2160);
  if (width * height * frames > 2_000_000_000) throw new BadInputError(`--frames x --width x --height: at most 2e9 pixels in all`, { field: "frames" });
  const log = benchLogger("bench-onnx-in-farm");

  return withTempDir("nightshift-bench-farm-", parentDirFlag(f.dir), async (dir) => {
    const bareOpts = { modelsDir: BUNDLED_MODELS_DIR, frames, width, height };
    // The farm's job seed comes from the demo job spec (7); the bare loop renders the same frames.
    const before = await runBareOnnxLoop({ ...bareOpts, seed: 7 });
    const cpu: { submitted?: CpuSnapshot; done?: CpuSnapshot } = {};
    const window = { submitUs: 0, doneUs: 0 };
    const run = await runFarmRender({
      dir, modelsDir: BUNDLED_MODELS_DIR, frames, width, height, log,
      onSubmit: () => {
        cpu.submitted = cpuSnapshot();
        window.submitUs = monotonicUs();
      },
      onDone: () => {
        cpu.done = cpuSnapshot();
        window.doneUs = monotonicUs();
      },
    });
    // With profiles asked for (bench/farm-agent-process.ts), the job's span on their clock, to cut them to it.
    const profDir = process.env.NIGHTSHIFT_BENCH_AGENT_CPU_PROF;
    if (profDir) writeFileSync(join(profDir, "job-window.json"), JSON.stringify(window));
    if (run.seed !== 7) throw new Error(`demo job seed is ${run.seed}, the bare loop used 7`);
    const after = await runBareOnnxLoop({ ...bareOpts, seed: run.seed });
    const bareFps = (before.framesPerSecond + after.framesPerSecond) / 2;
    const farmFps = frames / run.jobWallSeconds;
    const farmTotalFps = frames / run.totalSeconds;
    const farmCpu = cpu.submitted && cpu.done ? cpuPerFrame(cpu.submitted, cpu.done, frames) : null;
    const sameFrames = before.sha256.every((h, i) => h === run.sha256[i]);
    return {
      benchmark: "onnx-in-farm",
      frames,
      width,
      height,
      model: "colour-grade",
      intraOpThreads: 1,
      bareFramesPerSecond: round(bareFps, 2),
      farmFramesPerSecond: round(farmFps, 2),
      ratio: round(farmFps / bareFps, 3),
      farmTotalFramesPerSecond: round(farmTotalFps, 2),
      ratioTotal: round(farmTotalFps / bareFps, 3),
      bareBaseline: "mean of two bare loops, one before and one after the farm run; loop time only (session open excluded)",
      bareRuns: [before, after].map(describeBare),
      cpuMsPerFrame: {
        bare: round((before.cpuMsPerFrame + after.cpuMsPerFrame) / 2, 2),
        farm: farmCpu,
        coresAtBareRate: farmCpu === null ? null : round((farmCpu.totalMsPerFrame / 1000) * bareFps, 2),
        farmOverBare: farmCpu === null ? null : round(farmCpu.totalMsPerFrame / ((before.cpuMsPerFrame + after.cpuMsPerFrame) / 2), 2),
        definitions: {
          bare: "the bare loop's process CPU (all threads) per frame over its frame loop, mean of the two runs",
          farm: "CPU per frame from submit to done, per process (coordinator = this bench's process) and per thread (main, the named worker threads ns-* of shared/thread-name.ts, other = libuv pool, V8 and onnxruntime helpers), from /proc",
          coresAtBareRate: "farm CPU per frame x bare frames/s: the cores the farm would need to run at the bare loop's rate in this run",
          farmOverBare: "farm CPU per frame / bare CPU per frame: the cores the farm needs to keep up with a bare loop that has one core to itself; on N cores the ratio cannot exceed N / farmOverBare",
        },
      },
      farm: {
        chunks: run.chunks,
        jobWallSeconds: round(run.jobWallSeconds),
        submitToDoneSeconds: round(run.submitToDoneSeconds),
        startupSeconds: round(run.startupSeconds),
        totalSeconds: round(run.totalSeconds),
        teardownSeconds: round(run.teardownSeconds),
        agentChunkSeconds: round(run.agentChunkSeconds),
        agentBusySeconds: round(run.agentBusySeconds),
        definitions: {
          farmFramesPerSecond: "frames / job wall time from the report (first claim to last commit: model load, render, upload, fsync, SQLite)",
          farmTotalFramesPerSecond: "frames / (coordinator start + agent join + submit + job), teardown excluded",
          agentChunkSeconds: "sum of the agent's per-chunk wall time from the ledger",
          agentBusySeconds: "sum of the executor's busy time (model run + PNG encoding, as the agent's meter counts it) from the ledger",
        },
      },
      sameFrames,
      tempFileSystem: fileSystemType(dir),
      jobSpec: "demo job (generated input, seed 7, colour-grade, chunks of 8) without the assemble step",
    };
  });
}

function describeBare(r: BareLoopResult): Record<string, number> {
  return { framesPerSecond: round(r.framesPerSecond, 2), cpuMsPerFrame: round(r.cpuMsPerFrame, 2), loopSeconds: round(r.loopSeconds), sessionOpenSeconds: round(r.sessionOpenSeconds), pngBytes: r.pngBytes };
}

/** CLOCK_MONOTONIC in microseconds: the clock of V8's CPU profiles (their startTime and sample times) on Linux. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

runBench(() => onnxInFarmBench(process.argv.slice(2)));
