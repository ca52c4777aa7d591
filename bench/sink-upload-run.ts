import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../shared/log.ts";
import { compileCoordinatorConfig } from "../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../coordinator/coordinator.ts";
import { cleanupOnInterrupt, nowSeconds } from "./bench-cli.ts";
import type { SinkSender } from "./sink-sender-process.ts";
import type { UploadVia } from "../agent/grpc/result-uploader.ts";

export interface SinkUploadOptions {
  dir: string;
  modelsDir: string;
  /** Every frame has this many bytes (random, from the sender's pool). */
  frameBytes: number;
  frames: number;
  chunkSize: number;
  /**
   * Chunks uploading at once (default 1). An agent streams a chunk's frames
   * while the chunk before it commits (agent/work/chunk-runner.ts releases the
   * device before the upload ends), so 2 is what a busy agent does.
   */
  inFlight?: number;
  /** Each upload on the agent's one upload stream (the default, as the agent does) or as its own Upload call. */
  via?: UploadVia;
  /** The bench "agent", in a process of its own (bench/sink-sender-process.ts). */
  sender: SinkSender;
  log: Logger;
}

export interface SinkUploadResult {
  bytes: number;
  chunks: number;
  /**
   * Time spent uploading: with one chunk in flight, the sum of the
   * uploadAttempt calls (gRPC stream, sha256 both sides, fsync per frame,
   * SQLite commit, renames); with more, the time during which at least one
   * was running (the union of their intervals).
   */
  uploadSeconds: number;
  /** Each uploadAttempt call, first message to the commit's answer, in milliseconds. */
  uploadMs: number[];
  /** CPU time of the coordinator's process (this one) from the first upload to the last, claims and waits included. */
  sinkCpuSeconds: number;
  /** CPU time of the agent's process over the same span. */
  agentCpuSeconds: number;
  /** First claim to last commit: uploads plus waiting for the dispatcher and the claim calls. */
  wallSeconds: number;
}

/**
 * The result path without the model: a real coordinator (embedded nats-server,
 * SQLite, gRPC) in this process and a job, then one bench "agent" in its own
 * process that enrolls and joins over gRPC, claims each chunk the dispatcher
 * has queued (its dispatch id read here from the store instead of pulling the
 * NATS message) and uploads random payloads with the agent's own
 * uploadAttempt, `inFlight` chunks at a time. The agent never
 * heartbeats, so the coordinator is told to wait 10 minutes before calling it lost.
 */
export async function runSinkUploads(o: SinkUploadOptions): Promise<SinkUploadResult> {
  const config = compileCoordinatorConfig(
    { dataDir: join(o.dir, "coordinator"), outputRoot: join(o.dir, "output"), modelsDir: o.modelsDir, listen: "127.0.0.1:0", agentTimeoutMs: 600_000 },
    o.modelsDir,
  );
  const coordinator = await Coordinator.start(config, o.log.child({ role: "coordinator" }));
  const stopAll = async (): Promise<void> => {
    await o.sender.disconnect().catch(() => undefined);
    await coordinator.stop();
  };
  try {
    // The bench "agent" enrolls like any agent: a join token, then mutual TLS.
    const { token } = coordinator.trust.tokens.create({ ttlMs: 3_600_000, label: "sink-bench" });
    await o.sender.enroll(coordinator.joinPoint, token, join(o.dir, "agent"));
    return await cleanupOnInterrupt(stopAll, () => uploadAllChunks(o, coordinator));
  } finally {
    await stopAll();
  }
}

async function uploadAllChunks(o: SinkUploadOptions, coordinator: Coordinator): Promise<SinkUploadResult> {
  const spec = {
    name: "sink-bench",
    seed: 1,
    input: { type: "generated", width: 64, height: 36, frames: o.frames, fps: 24 },
    steps: [{ id: "grade", kind: "model", model: "colour-grade" }],
    chunking: { mode: "fixed", size: o.chunkSize },
    output: { path: "{job}", framePattern: "frame_{frame:06}.png" },
  };
  const submitted = await coordinator.api.submit(JSON.stringify(spec), o.dir);
  const deadline = Date.now() + 5 * 60_000;
  const inFlight = Math.max(1, o.inFlight ?? 1);
  const uploadMs: number[] = [];
  const running = new Map<string, Promise<void>>();
  let busySince: number | undefined;
  let uploadSeconds = 0;
  let bytes = 0;
  let done = 0;
  let started: number | undefined;
  const cpu = process.cpuUsage();
  const agentCpuAtStart = await o.sender.cpuMicros();
  const upload = async (chunkId: string, dispatchId: string): Promise<void> => {
    busySince ??= nowSeconds();
    const sent = await o.sender.upload(chunkId, dispatchId, o.frameBytes, o.via);
    uploadMs.push(sent.seconds * 1000);
    bytes += sent.bytes;
    done++;
  };
  while (done < submitted.chunks) {
    const chunk = running.size < inFlight ? coordinator.store.chunks.listByJobInState(submitted.jobId, "queued").find((c) => c.dispatchId !== null && !running.has(c.id)) : undefined;
    if (!chunk) {
      if (Date.now() > deadline) throw new Error(`sink bench: no chunk queued for 5 minutes (${done}/${submitted.chunks} done)`);
      // All slots busy: wait for an upload to end. Else poll for the dispatcher's next chunk, every
      // 1 ms while nothing uploads, every 5 ms beside a running upload (a tight poll would take its CPU).
      if (running.size >= inFlight) await Promise.race(running.values());
      else if (running.size > 0) await Promise.race([...running.values(), sleep(5)]);
      else await sleep(1);
      continue;
    }
    started ??= nowSeconds();
    const id = chunk.id;
    running.set(
      id,
      upload(id, chunk.dispatchId as string).finally(() => {
        running.delete(id);
        if (running.size === 0 && busySince !== undefined) {
          uploadSeconds += nowSeconds() - busySince;
          busySince = undefined;
        }
      }),
    );
  }
  await Promise.all(running.values());
  const used = process.cpuUsage(cpu);
  const sinkCpuMicros = used.user + used.system;
  const agentCpuMicros = (await o.sender.cpuMicros()) - agentCpuAtStart;
  const wallSeconds = nowSeconds() - (started ?? nowSeconds());
  const committed = coordinator.store.frames.countByJob(submitted.jobId);
  if (committed !== o.frames) throw new Error(`sink bench: ${committed} frames committed, ${o.frames} expected`);
  return { bytes, chunks: submitted.chunks, uploadSeconds, uploadMs, sinkCpuSeconds: sinkCpuMicros / 1e6, agentCpuSeconds: agentCpuMicros / 1e6, wallSeconds };
}
