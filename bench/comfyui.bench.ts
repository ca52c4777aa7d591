/**
 * Per-prompt overhead of running ComfyUI prompts through nightshift, against
 * driving the same ComfyUI stand-ins directly, in the same run.
 *
 *   node --import tsx bench/comfyui.bench.ts [--prompts 200] [--steps 1] [--step-ms 5] [--chunk-size 10] [--dir PARENT]   (npm run bench:comfyui)
 *
 * Two stand-ins (test/support/comfyui-standin: ComfyUI's protocol, no GPU
 * work, --steps sampler steps of --step-ms each), in a process of their own
 * as ComfyUI is (bench/comfyui-standin-process.ts), each prompt one 64x64
 * frame. Paths, in this order: `direct` (a hand-written client: POST
 * /prompt, wait on the socket, /history, /view), `executor` (the agent's
 * comfyui executor alone), `farm` (a coordinator and two agents, one job of
 * one-frame chunks), `farmChunked` (the same in chunks of --chunk-size
 * frames, one prompt per frame), `direct` again. The headline is the cycle: how long each
 * ComfyUI spends per prompt, from one prompt's end to the next one's, p50
 * over both servers; the farm's overhead is its p50 cycle minus direct's.
 * Prints one JSON object.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ComfyuiWorkStep } from "../shared/steps/work-step.ts";
import { TXT2IMG_BIND, txt2img } from "../test/support/comfyui-standin/workflows.ts";
import { benchLogger, cleanupOnInterrupt, intFlag, parentDirFlag, parseFlags, percentile, round, runBench, withTempDir } from "./bench-cli.ts";
import { runDirect, runExecutor } from "./comfyui-direct.ts";
import { runFarm } from "./comfyui-farm.ts";
import { startStandinProcess } from "./comfyui-standin-process.ts";

interface Phase {
  /** Client-side time per prompt (farm: the agent's chunk wall time from the ledger), ms. */
  promptMs: number[];
  /** ComfyUI-side time per prompt: gaps between consecutive completions on each server, ms. */
  cycleMs: number[];
  wallSeconds: number;
}

async function comfyuiBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { prompts: { default: "200" }, steps: { default: "1" }, "step-ms": { default: "5" }, "chunk-size": { default: "10" }, dir: { default: "" } });
  const prompts = intFlag("prompts", f.prompts, 2, 10_000);
  const steps = intFlag("steps", f.steps, 1, 100);
  const stepMs = intFlag("step-ms", f["step-ms"], 0, 1000);
  const chunkSize = intFlag("chunk-size", f["chunk-size"], 1, 1000);
  const log = benchLogger("bench-comfyui");
  const workflow = txt2img({ width: 64, height: 64, steps });
  const step: ComfyuiWorkStep = { id: "gen", kind: "comfyui", workflow, workflowSha256: createHash("sha256").update(JSON.stringify(workflow)).digest("hex"), bind: { ...TXT2IMG_BIND }, per: "frame" };

  return withTempDir("nightshift-bench-comfyui-", parentDirFlag(f.dir), async (dir) => {
    const standins = await startStandinProcess(2, stepMs);
    const closeAll = () => standins.close();
    return cleanupOnInterrupt(closeAll, async () => {
      try {
        const urls = standins.urls;
        /** Runs one path and reads each server's completion times during it. */
        const phase = async (run: () => Promise<{ ms: number[]; wallSeconds: number }>): Promise<Phase> => {
          const marks = (await standins.finishedAt()).map((f) => f.length);
          const r = await run();
          const cycleMs = (await standins.finishedAt()).flatMap((f, i) => {
            const t = f.slice(marks[i]);
            return t.slice(1).map((v, k) => v - t[k]!);
          });
          return { promptMs: r.ms, cycleMs, wallSeconds: r.wallSeconds };
        };
        await runDirect(urls, workflow, 10); // warm-up: sockets, fetch pools, JIT
        const direct = await phase(() => runDirect(urls, workflow, prompts));
        const executor = await phase(() => runExecutor(urls, step, prompts, log));
        const farmRun = (size: number) =>
          phase(async () => {
            const r = await runFarm({ dir: join(dir, `farm-${size}`), urls, workflow, count: prompts, chunkSize: size, log });
            return { ms: r.chunkMs, wallSeconds: r.wallSeconds };
          });
        const farm = await farmRun(1);
        const farmChunked = await farmRun(chunkSize);
        const directAfter = await phase(() => runDirect(urls, workflow, prompts));
        const base = { promptMs: [...direct.promptMs, ...directAfter.promptMs], cycleMs: [...direct.cycleMs, ...directAfter.cycleMs], wallSeconds: direct.wallSeconds + directAfter.wallSeconds };
        const baseCycle = percentile(base.cycleMs, 50);
        const against = (p: Phase) => ({ ...describe(p), overheadP50Ms: round(percentile(p.cycleMs, 50) - baseCycle, 2), ratioP50: round(percentile(p.cycleMs, 50) / baseCycle, 3) });
        return {
          benchmark: "comfyui",
          prompts,
          servers: urls.length,
          sampler: { steps, stepMs },
          direct: describe(base),
          executor: against(executor),
          farm: against(farm),
          farmChunked: { chunkSize, ...against(farmChunked) },
          aim: "the farm adds under 20 ms per prompt at p50 (farm.overheadP50Ms)",
          definitions: {
            cycleMs: "ComfyUI-side time per prompt: from one prompt's history entry to the next one's on the same server (work + everything the client does between prompts)",
            promptMs: "client-side per prompt: POST /prompt to the frame's last byte (farm: the agent's chunk wall time from the ledger, claim to upload committed)",
            direct: "a hand-written client (POST /prompt, socket wait for executing {node: null}, GET /history/{id}, GET /view), run before and after the others, pooled",
            executor: "the agent's comfyui executor alone: bindings, extra_pnginfo provenance, prompt watcher, /view",
            farm: "coordinator + two agents on loopback, one job of one-frame chunks (one prompt per chunk): dispatch, claim, executor, upload, sha256, fsync, SQLite commit",
            farmChunked: "the same job in chunks of --chunk-size frames (still one prompt per frame): dispatch and claim once per chunk",
            overheadP50Ms: "p50 cycleMs of this path minus p50 cycleMs of direct",
          },
        };
      } finally {
        await closeAll();
      }
    });
  });
}

function describe(p: Phase): Record<string, number> {
  return {
    cycleP50Ms: round(percentile(p.cycleMs, 50), 2),
    cycleP90Ms: round(percentile(p.cycleMs, 90), 2),
    promptP50Ms: round(percentile(p.promptMs, 50), 2),
    promptP90Ms: round(percentile(p.promptMs, 90), 2),
    promptsPerSecond: round(p.promptMs.length / p.wallSeconds, 1),
  };
}

runBench(() => comfyuiBench(process.argv.slice(2)));
