/**
 * NVML-vs-agent energy check, for a machine with an NVIDIA GPU (Volta or
 * newer: it needs NVML's total-energy counter). Never run in CI: it needs a
 * GPU, a CUDA load, and minutes.
 *
 *   node --import tsx bench/gpu-energy-check.ts [--sources nvml,nvidia-smi] [--gpu 0]
 *        [--frames 240] [--width 1920] [--height 1080] [--chunk 24] [--load "CMD"] [--providers cpu|webgpu,cpu|cuda,cpu] [--dir PARENT]
 *
 * 1. Opens NVML on GPU --gpu and measures the idle draw for 3 s.
 * 2. Starts a CUDA load beside the agent: by default a PyTorch 8192x8192
 *    matmul loop (python3 with torch), or --load CMD (any CUDA program, run by
 *    /bin/sh; e.g. "gpu_burn 600"), and waits until the GPU is busy.
 * 3. Reads NVML's total-energy counter every 20 ms as the reference.
 * 4. For each source in --sources: an in-process coordinator and an enrolled
 *    agent with that power source (not pausing for the load, which is a
 *    foreign GPU user) render a job; for every chunk the agent's reported
 *    energy is compared with the reference counter over exactly the interval
 *    the agent's chunk meter measured; chunks whose intervals overlap (the
 *    meters hand the shared time to the later chunk, so it is counted once)
 *    are compared as one group, their sum against the counter over their union.
 * 5. Prints one JSON object; exit 0 when every source is within --max-error
 *    percent (default 2) over all chunks, 1 when not, 2 when there is no usable GPU.
 *
 * Size the job so that chunks last several seconds (the counter and
 * nvidia-smi's 1-second power average make short chunks noisy): raise --chunk
 * or the frame size; --providers webgpu,cpu runs the model on onnxruntime's
 * WebGPU provider (bundled with onnxruntime-node; Vulkan on Linux), cuda,cpu
 * on its CUDA provider where installed. --cuda 1 is kept as cuda,cpu.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BadInputError, MissingDependencyError } from "../shared/errors.ts";
import { ENERGY_SOURCES, type EnergySource } from "../shared/accounting/chunk-accounting.ts";
import { compileCoordinatorConfig } from "../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../coordinator/coordinator.ts";
import { startEnrolledAgent } from "../agent/connect/enroll-local-agent.ts";
import type { MeasuredChunk } from "../agent/start-agent.ts";
import { choosePowerSource } from "../agent/probe/power-source.ts";
import { measureIdleWatts } from "../agent/probe/measure-idle.ts";
import type { PowerSource } from "../agent/probe/power-source-types.ts";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { parseOnnxProviders } from "../agent/executors/onnx-providers.ts";
import { benchLogger, cleanupOnInterrupt, intFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { compareEnergy, type CounterSample } from "./energy-compare.ts";

const FLAGS = {
  sources: { default: "nvml,nvidia-smi" },
  gpu: { default: "0" },
  frames: { default: "240" },
  width: { default: "1920" },
  height: { default: "1080" },
  chunk: { default: "24" },
  load: { default: "" },
  cuda: { default: "0" },
  providers: { default: "" },
  "max-error": { default: "2" },
  dir: { default: "" },
};

const TORCH_LOAD = [
  "import torch, time",
  "x = torch.randn(8192, 8192, device='cuda')",
  "end = time.time() + 1800",
  "while time.time() < end:",
  "    (x @ x).sum().item()",
].join("\n");

function startLoad(cmd: string): ChildProcess {
  const child = cmd ? spawn("/bin/sh", ["-c", cmd], { stdio: "ignore" }) : spawn("python3", ["-c", TORCH_LOAD], { stdio: ["ignore", "ignore", "inherit"] });
  child.on("error", () => undefined);
  return child;
}

async function stopLoad(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(timer);
}

/** Samples the reference counter (joules) every intervalMs until stopped. */
function referenceSampler(source: PowerSource, intervalMs = 20) {
  const samples: CounterSample[] = [];
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    source
      .read()
      .then((r) => {
        const c = r.counters?.[0];
        if (c) samples.push({ tMs: r.tMs, joules: Number(c.value) * c.joulesPerUnit });
      })
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, intervalMs);
  return { samples, stop: () => clearInterval(timer) };
}

async function runSource(kind: EnergySource, o: { gpu: number; dir: string; frames: number; width: number; height: number; chunk: number; providers: string[] | undefined }) {
  const log = benchLogger(`gpu-energy-check-${kind}`);
  const config = compileCoordinatorConfig({ dataDir: join(o.dir, kind, "coordinator"), outputRoot: join(o.dir, kind, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" }, BUNDLED_MODELS_DIR);
  const coordinator = await Coordinator.start(config, log);
  const chunks: MeasuredChunk[] = [];
  try {
    const { token } = coordinator.trust.tokens.create({ ttlMs: 3_600_000, multiUse: false, label: "gpu-check" });
    const dataDir = join(o.dir, kind, "agent");
    const { source } = await choosePowerSource({ only: kind, gpuIndices: [o.gpu], ownPids: [process.pid], log });
    const agent = await startEnrolledAgent(coordinator.joinPoint, token, {
      name: `check-${kind}`,
      dataDir,
      modelsDir: BUNDLED_MODELS_DIR,
      powerSource: source,
      pauseOnForeignGpuUse: false, // the load is another process on the card, on purpose
      onChunkMeasured: (m) => chunks.push(m),
      ...(o.providers ? { executionProviders: o.providers } : {}),
      log,
    });
    try {
      const spec = {
        name: `gpu-energy-check-${kind}`,
        input: { type: "generated", width: o.width, height: o.height, frames: o.frames },
        steps: [{ id: "grade", kind: "model", model: "colour-grade" }],
        chunking: { mode: "fixed", size: o.chunk },
      };
      const { jobId } = await coordinator.api.submit(JSON.stringify(spec), o.dir);
      const job = await coordinator.finisher.waitFor(jobId, AbortSignal.timeout(30 * 60_000));
      if (job.state !== "done") throw new Error(`job ${jobId} ended ${job.state}: ${job.message ?? ""}`);
    } finally {
      await agent.stop();
    }
  } finally {
    await coordinator.stop();
  }
  return chunks;
}

/** The agent's onnxruntime providers: --providers LIST, or cuda,cpu for the older --cuda 1; undefined leaves the agent's default (cpu). */
function providersFlag(list: string, cuda: boolean): string[] | undefined {
  if (list !== "") return parseOnnxProviders(list, "--providers");
  return cuda ? ["cuda", "cpu"] : undefined;
}

async function main(): Promise<unknown> {
  const f = parseFlags(process.argv.slice(2), FLAGS);
  const sources = f.sources.split(",").map((s) => s.trim()) as EnergySource[];
  const bad = sources.find((s) => !ENERGY_SOURCES.includes(s) || s === "estimate" || s === "rapl");
  if (bad !== undefined || sources.length === 0) throw new BadInputError(`--sources: expected nvml and/or nvidia-smi, got '${f.sources}'`, { field: "sources" });
  const o = {
    gpu: intFlag("gpu", f.gpu, 0, 63),
    frames: intFlag("frames", f.frames, 1, 100_000),
    width: intFlag("width", f.width, 16, 8192),
    height: intFlag("height", f.height, 16, 8192),
    chunk: intFlag("chunk", f.chunk, 1, 10_000),
    providers: providersFlag(f.providers, intFlag("cuda", f.cuda, 0, 1) === 1),
  };
  const maxError = Number(f["max-error"]);
  if (!(maxError > 0)) throw new BadInputError(`--max-error: expected a percentage > 0, got '${f["max-error"]}'`, { field: "max-error" });

  let reference: PowerSource;
  try {
    reference = (await choosePowerSource({ only: "nvml", gpuIndices: [o.gpu], ownPids: [process.pid] })).source;
  } catch (err) {
    if (err instanceof MissingDependencyError) throw new BadInputError(`no usable NVIDIA GPU: ${err.message}`, { field: "gpu", cause: err });
    throw err;
  }
  const probe = await reference.read();
  if (!probe.counters?.length) {
    await reference.close();
    throw new BadInputError(`GPU ${o.gpu} has no NVML total-energy counter (Volta or newer needed)`, { field: "gpu" });
  }
  const idleWatts = await measureIdleWatts(reference, { durationMs: 3000 });
  const load = startLoad(f.load);
  return withTempDir("ns-gpu-check-", parentDirFlag(f.dir), (dir) =>
    cleanupOnInterrupt(
      () => stopLoad(load),
      async () => {
        const sampler = referenceSampler(reference);
        try {
          let loadWatts = 0;
          for (let i = 0; i < 120 && loadWatts < (idleWatts ?? 0) + 50; i += 1) {
            if (load.exitCode !== null) throw new Error(`the load exited with ${load.exitCode} before the GPU got busy (is torch with CUDA installed? or pass --load)`);
            await sleep(500);
            loadWatts = (await reference.read()).watts ?? 0;
          }
          const results = [];
          for (const kind of sources) {
            const chunks = await runSource(kind, { ...o, dir });
            const cmp = compareEnergy(sampler.samples, chunks.map((c) => ({ startMs: c.startMs, endMs: c.endMs, joules: c.accounting.energyJoules })));
            const seconds = chunks.reduce((s, c) => s + c.accounting.wallSeconds, 0);
            results.push({
              source: kind,
              chunks: cmp.chunks,
              overlapGroups: cmp.groups,
              skipped: cmp.skipped,
              chunkSeconds: round(seconds, 2),
              meanWatts: round(cmp.referenceJoules / Math.max(seconds, 1e-9), 1),
              agentJoules: round(cmp.agentJoules, 1),
              nvmlJoules: round(cmp.referenceJoules, 1),
              errorPercent: round(cmp.errorPercent, 3),
              maxChunkErrorPercent: round(cmp.maxChunkErrorPercent, 3),
              pass: Math.abs(cmp.errorPercent) <= maxError,
            });
          }
          const pass = results.every((r) => r.pass);
          if (!pass) process.exitCode = 1;
          return {
            benchmark: "gpu-energy-check",
            gpu: o.gpu,
            device: reference.description,
            idleWatts: idleWatts === null ? null : round(idleWatts, 1),
            loadWatts: round(loadWatts, 1),
            load: f.load || "python3 torch 8192x8192 matmul loop",
            job: { frames: o.frames, width: o.width, height: o.height, chunk: o.chunk, providers: o.providers ?? ["cpu"] },
            maxErrorPercent: maxError,
            referenceSamples: sampler.samples.length,
            results,
            pass,
          };
        } finally {
          sampler.stop();
          await stopLoad(load);
          await reference.close();
        }
      },
    ),
  );
}

runBench(main);
