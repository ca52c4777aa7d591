import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { compileCoordinatorConfig } from "../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../coordinator/coordinator.ts";
import type { Logger } from "../shared/log.ts";
import { workflowByContent } from "../shared/job-spec/comfy-workflow-content.ts";
import type { ComfyuiWorkStep } from "../shared/steps/work-step.ts";
import { cleanupOnInterrupt } from "./bench-cli.ts";
import { startFarmAgentProcess, type FarmAgentProcess } from "./farm-agent-process.ts";

/**
 * The farm half of the comfyui benchmark: an embedded coordinator (its own
 * nats-server, SQLite, gRPC on loopback) in this process and one agent per
 * ComfyUI (`comfyui: { url }`) in a process of their own
 * (bench/farm-agent-process.ts: a studio's agents are other machines), one
 * job of `count` frames in chunks of `chunkSize`, each frame one prompt:
 * dispatch, claim, the executor, upload, sha256, fsync, commit. `dir` must be
 * fresh for each run.
 */

export interface FarmComfyResult {
  jobId: string;
  /** Submit to job done. */
  wallSeconds: number;
  /** Per prompt: each chunk's own wall time from the ledger (claim to upload done) over its frames, ms. */
  chunkMs: number[];
}

export async function runFarm(o: { dir: string; urls: readonly string[]; workflow: ComfyuiWorkStep["workflow"]; count: number; chunkSize: number; log: Logger }): Promise<FarmComfyResult> {
  const config = compileCoordinatorConfig({ dataDir: join(o.dir, "coordinator"), outputRoot: join(o.dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" }, BUNDLED_MODELS_DIR);
  const coordinator = await Coordinator.start(config, o.log.child({ role: "coordinator" }));
  const held: { agents?: FarmAgentProcess; chunks: number } = { chunks: 0 };
  const stopAll = async (): Promise<void> => {
    await held.agents?.stop(held.chunks);
    await coordinator.stop();
  };
  try {
    return await cleanupOnInterrupt(stopAll, async () => {
      held.agents = await startFarmAgentProcess(
        coordinator.joinPoint,
        o.urls.map((url, i) => ({
          name: `bench-comfy-${i}`,
          dataDir: join(o.dir, `agent-${i}`),
          modelsDir: BUNDLED_MODELS_DIR,
          joinToken: coordinator.trust.tokens.create({ ttlMs: 3_600_000, label: `bench-comfy-${i}` }).token,
          intraOpThreads: 1,
          energySource: "estimate",
          kinds: { comfyui: { url } },
        })),
      );
      mkdirSync(join(o.dir, "job"), { recursive: true });
      writeFileSync(join(o.dir, "job", "bench.api.json"), JSON.stringify(o.workflow));
      // The workflow by content, as nightshift submit sends it (the coordinator reads no workflow path).
      const workflow = workflowByContent("bench.api.json", Buffer.from(JSON.stringify(o.workflow)));
      if ("problem" in workflow) throw new Error(`bench workflow ${workflow.problem}`);
      const spec = {
        name: "comfyui bench",
        seed: 0,
        steps: [{ id: "gen", kind: "comfyui", workflow: workflow.sent, bind: { seed: { node: "3", input: "seed" }, prefix: { node: "9", input: "filename_prefix" } }, per: "frame" }],
        frames: { start: 0, end: o.count - 1 },
        chunking: { mode: "fixed", size: o.chunkSize },
        output: { path: "{job}", framePattern: "frame_{frame:06}.png" },
      };
      const t0 = performance.now();
      const submitted = await coordinator.api.submit(JSON.stringify(spec), join(o.dir, "job"));
      const job = await coordinator.finisher.waitFor(submitted.jobId, AbortSignal.timeout(10 * 60_000));
      const wallSeconds = (performance.now() - t0) / 1000;
      if (job.state !== "done") throw new Error(`farm job ${job.id} ended ${job.state}: ${job.message ?? ""}`);
      const frames = coordinator.store.frames.listByJob(job.id).length;
      if (frames !== o.count) throw new Error(`farm job ${job.id}: ${frames} frames committed, ${o.count} expected`);
      const ledger = coordinator.store.ledger.listByJob(job.id);
      held.chunks = ledger.length;
      const chunkMs = ledger.flatMap((e) => Array<number>(e.frames).fill((e.wallSeconds * 1000) / e.frames));
      return { jobId: job.id, wallSeconds, chunkMs };
    });
  } finally {
    await stopAll();
  }
}
