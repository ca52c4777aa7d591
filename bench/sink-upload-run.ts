import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../shared/log.ts";
import type { ChunkAccounting } from "../shared/accounting/chunk-accounting.ts";
import { ChunkWorkSchema } from "../shared/protocol/messages.ts";
import { NIGHTSHIFT_VERSION } from "../shared/version.ts";
import { compileCoordinatorConfig } from "../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../coordinator/coordinator.ts";
import { CoordinatorClient } from "../agent/grpc/gateway-client.ts";
import { enrollLocalAgent } from "../agent/connect/enroll-local-agent.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { uploadAttempt } from "../agent/grpc/result-uploader.ts";
import type { EncodedFrame } from "../agent/executors/executor.ts";
import { cleanupOnInterrupt, nowSeconds } from "./bench-cli.ts";

export interface SinkUploadOptions {
  dir: string;
  modelsDir: string;
  /** Payload of frame i is payloads[i % payloads.length]. */
  payloads: readonly Uint8Array[];
  frames: number;
  chunkSize: number;
  log: Logger;
}

export interface SinkUploadResult {
  bytes: number;
  chunks: number;
  /** Sum of the uploadAttempt calls: gRPC stream, sha256 both sides, fsync per frame, SQLite commit, renames. */
  uploadSeconds: number;
  /** Each uploadAttempt call, first message to the commit's answer, in milliseconds. */
  uploadMs: number[];
  /** CPU time of this process (agent and coordinator both) during the uploadAttempt calls. */
  uploadCpuSeconds: number;
  /** First claim to last commit: uploads plus waiting for the dispatcher and the claim calls. */
  wallSeconds: number;
}

const ACCOUNTING: ChunkAccounting = {
  wallSeconds: 0, busySeconds: 0, energyJoules: 0, energySource: "estimate", idleEnergyJoules: 0,
  peakMemoryBytes: 0, memoryKind: "ram", meanWatts: 0, samples: 0,
};

async function* framesOf(start: number, end: number, payloads: readonly Uint8Array[]): AsyncIterable<EncodedFrame> {
  for (let i = start; i <= end; i++) yield { index: i, data: payloads[i % payloads.length]!, format: "png" };
}

/**
 * The result path without the model: a real coordinator (embedded nats-server,
 * SQLite, gRPC) and a job, then one bench "agent" that joins over gRPC, claims
 * each chunk the dispatcher has queued (reading its dispatch id from the store
 * instead of pulling the NATS message) and uploads precomputed payloads with
 * the agent's own uploadAttempt, one chunk at a time as an agent does. The
 * agent never heartbeats, so the coordinator is told to wait 10 minutes before
 * calling it lost.
 */
export async function runSinkUploads(o: SinkUploadOptions): Promise<SinkUploadResult> {
  const config = compileCoordinatorConfig(
    { dataDir: join(o.dir, "coordinator"), outputRoot: join(o.dir, "output"), modelsDir: o.modelsDir, listen: "127.0.0.1:0", agentTimeoutMs: 600_000 },
    o.modelsDir,
  );
  const coordinator = await Coordinator.start(config, o.log.child({ role: "coordinator" }));
  // The bench "agent" enrolls like any agent: a join token, then mutual TLS.
  const { token } = coordinator.trust.tokens.create({ ttlMs: 3_600_000, label: "sink-bench" });
  const enrolled = await enrollLocalAgent({ coordinator: coordinator.joinPoint, joinToken: token, dataDir: join(o.dir, "agent"), name: "bench-uploader", log: o.log }).catch(async (err: unknown) => {
    await coordinator.stop();
    throw err;
  });
  const channel = studioChannelCredentials(enrolled.credentials);
  const client = new CoordinatorClient(coordinator.address, channel.credentials, channel.options);
  const stopAll = async (): Promise<void> => {
    client.close();
    await coordinator.stop();
  };
  try {
    return await cleanupOnInterrupt(stopAll, () => uploadAllChunks(o, coordinator, client));
  } finally {
    await stopAll();
  }
}

async function uploadAllChunks(o: SinkUploadOptions, coordinator: Coordinator, client: CoordinatorClient): Promise<SinkUploadResult> {
  const joined = await client.join({
    agentId: "", name: "bench-uploader", version: NIGHTSHIFT_VERSION, gpus: [], ramBytes: os.totalmem(),
    cpuCount: os.cpus().length, tags: [], executors: [], kinds: [{ kind: "model", version: "1.30.0", features: [], devices: [] }], joinToken: "",
  });
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
  let uploadSeconds = 0;
  let uploadCpuMicros = 0;
  const uploadMs: number[] = [];
  let bytes = 0;
  let started: number | undefined;
  for (let done = 0; done < submitted.chunks; ) {
    const chunk = coordinator.store.chunks.listByJobInState(submitted.jobId, "queued").find((c) => c.dispatchId !== null);
    if (!chunk) {
      if (Date.now() > deadline) throw new Error(`sink bench: no chunk queued for 5 minutes (${done}/${submitted.chunks} done)`);
      await sleep(1);
      continue;
    }
    started ??= nowSeconds();
    const claim = await client.claim(joined.agentId, chunk.id, chunk.dispatchId as string, 1);
    if (claim.skip) throw new Error(`sink bench: claim of ${chunk.id} skipped: ${claim.reason}`);
    const work = ChunkWorkSchema.parse(JSON.parse(claim.workJson));
    const t = nowSeconds();
    const cpu = process.cpuUsage();
    const res = await uploadAttempt(
      client,
      { jobId: work.jobId, chunkId: work.chunkId, attemptId: work.attemptId, agentId: joined.agentId, frameCount: work.frameEnd - work.frameStart + 1 },
      framesOf(work.frameStart, work.frameEnd, o.payloads),
      () => Promise.resolve(ACCOUNTING),
      AbortSignal.timeout(5 * 60_000),
    );
    const took = nowSeconds() - t;
    const used = process.cpuUsage(cpu);
    uploadSeconds += took;
    uploadMs.push(took * 1000);
    uploadCpuMicros += used.user + used.system;
    if (!res.committed) throw new Error(`sink bench: upload of ${chunk.id} not committed: ${res.message}`);
    for (let i = work.frameStart; i <= work.frameEnd; i++) bytes += o.payloads[i % o.payloads.length]!.length;
    done++;
  }
  const wallSeconds = nowSeconds() - (started ?? nowSeconds());
  const committed = coordinator.store.frames.countByJob(submitted.jobId);
  if (committed !== o.frames) throw new Error(`sink bench: ${committed} frames committed, ${o.frames} expected`);
  return { bytes, chunks: submitted.chunks, uploadSeconds, uploadMs, uploadCpuSeconds: uploadCpuMicros / 1e6, wallSeconds };
}
