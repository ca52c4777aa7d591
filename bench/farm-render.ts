import { join } from "node:path";
import type { Logger } from "../shared/log.ts";
import { compileCoordinatorConfig } from "../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../coordinator/coordinator.ts";
import { demoJobSpec } from "../cli/demo/demo-job.ts";
import { cleanupOnInterrupt, nowSeconds } from "./bench-cli.ts";
import { startFarmAgentProcess, type FarmAgentProcess } from "./farm-agent-process.ts";

export interface FarmRenderOptions {
  dir: string;
  modelsDir: string;
  frames: number;
  width: number;
  height: number;
  log: Logger;
  /** Another model for the demo job's frame step (default: colour-grade), and coordinator settings it needs. */
  model?: { id: string; name: string; agentTimeoutMs?: number };
  /** Called right before the job is submitted and right after it is done (the onnx bench samples CPU there). */
  onSubmit?: () => void;
  onDone?: () => void;
}

export interface FarmRenderResult {
  jobId: string;
  frames: number;
  chunks: number;
  seed: number;
  /** The job's own wall time from the report: first claim to last commit. */
  jobWallSeconds: number;
  /** Bench clock, submit() call to job done (adds dispatch and the first NATS delivery). */
  submitToDoneSeconds: number;
  /** Coordinator start (nats-server, SQLite, gRPC) plus the agent's process start and join. */
  startupSeconds: number;
  /** Coordinator start to job done. */
  totalSeconds: number;
  /** Agent stop and coordinator drain, not in totalSeconds. */
  teardownSeconds: number;
  /** Sum over chunks of the agent's own chunk wall time (claim to upload done), from the ledger. */
  agentChunkSeconds: number;
  /** Sum over chunks of the executor's busy time (model + PNG encoding), from the ledger. */
  agentBusySeconds: number;
  /** sha256 of each committed frame, by frame index. */
  sha256: string[];
}

/**
 * The demo's job through the whole farm on loopback: an embedded coordinator
 * (its own nats-server, SQLite, gRPC) in this process and one agent started
 * as `nightshift demo` starts it (intraOpThreads 1) in a process of its own
 * (bench/farm-agent-process.ts: in a studio it is another machine). The job is the demo job
 * without its assemble step, so the farm does the same per-frame work as the
 * bare loop plus everything around it (dispatch, claim, upload, sha256,
 * fsync, rename, SQLite commit), and no ffmpeg.
 */
export async function runFarmRender(o: FarmRenderOptions): Promise<FarmRenderResult> {
  const t0 = nowSeconds();
  const config = compileCoordinatorConfig(
    {
      dataDir: join(o.dir, "coordinator"), outputRoot: join(o.dir, "output"), modelsDir: o.modelsDir, listen: "127.0.0.1:0",
      ...(o.model?.agentTimeoutMs === undefined ? {} : { agentTimeoutMs: o.model.agentTimeoutMs }),
    },
    o.modelsDir,
  );
  const coordinator = await Coordinator.start(config, o.log.child({ role: "coordinator" }));
  const held: { agent?: FarmAgentProcess } = {};
  const stopAll = async (): Promise<void> => {
    await held.agent?.stop();
    await coordinator.stop();
  };
  try {
    return await cleanupOnInterrupt(stopAll, () => renderOneJob(o, coordinator, held, t0));
  } finally {
    await stopAll();
  }
}

async function renderOneJob(o: FarmRenderOptions, coordinator: Coordinator, held: { agent?: FarmAgentProcess }, t0: number): Promise<FarmRenderResult> {
  const spec = demoJobSpec(o.frames, o.width, o.height, o.model) as { seed: number; steps: Array<{ kind: string }>; output: Record<string, unknown> };
  spec.steps = spec.steps.filter((s) => s.kind !== "assemble");
  delete spec.output.video;
  const { token } = coordinator.trust.tokens.create({ ttlMs: 3_600_000, label: "bench" });
  const agent = await startFarmAgentProcess(coordinator.joinPoint, [{ name: "bench-agent", dataDir: join(o.dir, "agent"), modelsDir: o.modelsDir, joinToken: token, intraOpThreads: 1 }]);
  held.agent = agent;
  const startupSeconds = nowSeconds() - t0;
  o.onSubmit?.();
  const submittedAt = nowSeconds();
  const submitted = await coordinator.api.submit(JSON.stringify(spec), o.dir);
  const job = await coordinator.finisher.waitFor(submitted.jobId, AbortSignal.timeout(10 * 60_000));
  const done = nowSeconds();
  o.onDone?.();
  if (job.state !== "done") throw new Error(`farm job ${job.id} ended ${job.state}: ${job.message ?? ""}`);
  const jr = coordinator.api.report(job.id).jobs[0];
  const rows = coordinator.store.frames.listByJob(job.id);
  const ledger = coordinator.store.ledger.listByJob(job.id);
  if (!jr || jr.frames !== o.frames || rows.length !== o.frames) {
    throw new Error(`farm job ${job.id}: ${rows.length} frames committed, ${o.frames} expected`);
  }
  // The coordinator can see the last commit before the agent has read the
  // upload's reply; stopping the agent then would cancel a call that already
  // succeeded. stop(chunks) lets it finish its bookkeeping first (bounded).
  const t1 = nowSeconds();
  await agent.stop(jr.chunks);
  await coordinator.stop();
  return {
    jobId: job.id,
    frames: jr.frames,
    chunks: jr.chunks,
    seed: spec.seed,
    jobWallSeconds: jr.wallSeconds,
    submitToDoneSeconds: done - submittedAt,
    startupSeconds,
    totalSeconds: done - t0,
    teardownSeconds: nowSeconds() - t1,
    agentChunkSeconds: ledger.reduce((sum, e) => sum + e.wallSeconds, 0),
    agentBusySeconds: ledger.reduce((sum, e) => sum + e.busySeconds, 0),
    sha256: rows.map((r) => r.sha256),
  };
}
