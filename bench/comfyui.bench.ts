/**
 * Per-prompt overhead of running ComfyUI prompts through nightshift, against
 * driving the same ComfyUI stand-ins directly, in the same run.
 *
 *   node --import tsx bench/comfyui.bench.ts [--prompts 200] [--steps 1]     (npm run bench:comfyui)
 *
 * Two stand-ins (test/support/comfyui-standin: ComfyUI's protocol, no GPU
 * work, one sampler step of --step-ms). Baselines: `direct` (POST /prompt,
 * wait on the socket, /history, /view) and `executor` (the agent's comfyui
 * executor alone). The overhead figures are p50 and p90 differences per
 * prompt against `direct`. Prints one JSON object.
 */
import { createHash } from "node:crypto";
import type { ComfyuiWorkStep } from "../shared/steps/work-step.ts";
import { ComfyStandin } from "../test/support/comfyui-standin/standin-server.ts";
import { TXT2IMG_BIND, txt2img } from "../test/support/comfyui-standin/workflows.ts";
import { benchLogger, cleanupOnInterrupt, intFlag, parseFlags, round, runBench } from "./bench-cli.ts";
import { percentile, runDirect, runExecutor, type PromptTimes } from "./comfyui-direct.ts";

async function comfyuiBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { prompts: { default: "200" }, steps: { default: "1" }, "step-ms": { default: "5" } });
  const prompts = intFlag("prompts", f.prompts, 2, 10_000);
  const steps = intFlag("steps", f.steps, 1, 100);
  const stepMs = intFlag("step-ms", f["step-ms"], 0, 1000);
  const log = benchLogger("bench-comfyui");
  const workflow = txt2img({ width: 64, height: 64, steps });
  const step: ComfyuiWorkStep = { id: "gen", kind: "comfyui", workflow, workflowSha256: createHash("sha256").update(JSON.stringify(workflow)).digest("hex"), bind: { ...TXT2IMG_BIND }, per: "frame" };

  const standins = await Promise.all([ComfyStandin.start({ stepMs, previews: false }), ComfyStandin.start({ stepMs, previews: false })]);
  const closeAll = async () => void (await Promise.all(standins.map((s) => s.close())));
  return cleanupOnInterrupt(closeAll, async () => {
    try {
      const urls = standins.map((s) => s.url);
      await runDirect(urls, workflow, 10); // warm-up: sockets, fetch pools, JIT
      const direct = await runDirect(urls, workflow, prompts);
      const executor = await runExecutor(urls, step, prompts, log);
      const directAfter = await runDirect(urls, workflow, prompts);
      const baseline = [...direct.ms, ...directAfter.ms];
      const p50 = percentile(baseline, 50);
      return {
        benchmark: "comfyui",
        prompts,
        servers: urls.length,
        sampler: { steps, stepMs },
        direct: describe(direct, directAfter),
        executor: { ...describe(executor), overheadP50Ms: round(percentile(executor.ms, 50) - p50, 2), overheadP90Ms: round(percentile(executor.ms, 90) - percentile(baseline, 90), 2), ratioP50: round(percentile(executor.ms, 50) / p50, 3) },
        farm: null,
        farmMissing: "the farm half needs the step-kind seam (comfyui steps in the job spec, the executor registry on the agent); it is not on this branch yet",
        aim: "farm adds under 20 ms per prompt at p50",
        definitions: {
          promptMs: "POST /prompt to the frame's last byte from /view, per prompt",
          direct: "a hand-written client: POST /prompt, wait for executing {node: null} on the socket, GET /history/{id}, GET /view; run before and after the others, both runs pooled",
          executor: "the agent's comfyui executor alone: bindings, extra_pnginfo provenance, prompt watcher, /view",
          overheadP50Ms: "p50 of this path minus p50 of direct",
        },
      };
    } finally {
      await closeAll();
    }
  });
}

function describe(...runs: PromptTimes[]): Record<string, number> {
  const ms = runs.flatMap((r) => r.ms);
  return { p50Ms: round(percentile(ms, 50), 2), p90Ms: round(percentile(ms, 90), 2), meanMs: round(ms.reduce((a, b) => a + b, 0) / ms.length, 2), promptsPerSecond: round(runs.reduce((a, r) => a + r.ms.length, 0) / runs.reduce((a, r) => a + r.wallSeconds, 0), 1) };
}

runBench(() => comfyuiBench(process.argv.slice(2)));
