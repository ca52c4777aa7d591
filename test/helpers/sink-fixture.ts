import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { ResultSink, type AttemptStamper, type IncomingFrame, type SinkOptions, type UploadHeader } from "../../coordinator/sink/result-sink.ts";
import type { Store } from "../../coordinator/store/store.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import { manualClock } from "./manual-clock.ts";
import { queueChunk, seedFarm } from "./store-fixture.ts";
import { testLog } from "./test-log.ts";

export const ACCOUNTING: ChunkAccounting = {
  wallSeconds: 4.5,
  busySeconds: 3.25,
  energyJoules: 812.5,
  energySource: "rapl",
  idleEnergyJoules: 90,
  peakMemoryBytes: 123_456_789,
  memoryKind: "ram",
  meanWatts: 180.5,
  samples: 9,
};

export const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** The test farm's frame layout: <job output dir>/frame_NNNN.png. */
export const framePath = (job: Pick<JobRow, "outputDir">, i: number): string => join(job.outputDir, `frame_${String(i).padStart(4, "0")}.png`);

/** A frame of random bytes with its true sha256 and size. */
export function randomFrame(index: number, bytes = 2048): IncomingFrame {
  const data = randomBytes(bytes);
  return { index, data, sha256: sha256Hex(data), size: data.length, format: "png" };
}

/** Makes `attemptId` the chunk's live attempt by `agentId`, the way a claim does. */
export function startAttempt(store: Store, chunkId: string, agentId: string, attemptId: string, now = 1_500): void {
  queueChunk(store, chunkId);
  const chunk = store.chunks.get(chunkId)!;
  store.attempts.insert({ id: attemptId, chunkId, jobId: chunk.jobId, agentId, createdAt: now });
  store.chunks.transition(chunkId, "running", now, { currentAttemptId: attemptId, countAttempt: true });
}

/**
 * A temp store with one job (chunks 0-2 and 3-5) whose output dir is
 * <dir>/out/shot-a, one online agent, a live attempt "att_live" on chunk 0, and
 * a ResultSink over <dir>/out. `committed` records onCommitted calls.
 */
export function setupSink(
  t: TestContext,
  opts: { maxFrameBytes?: number; chunks?: ReadonlyArray<readonly [number, number]>; stamper?: (store: Store) => AttemptStamper; shareTransaction?: SinkOptions["shareTransaction"] } = {},
) {
  const chunks = opts.chunks ?? [[0, 2], [3, 5]];
  const farm = seedFarm(t, { chunks });
  const outputRoot = join(farm.dir, "out");
  farm.store.db.prepare(`UPDATE jobs SET output_dir = ? WHERE id = ?`).run(join(outputRoot, "shot-a"), farm.job.id);
  const job = farm.store.jobs.get(farm.job.id)!;
  const clock = manualClock(70_000);
  const committed: string[] = [];
  const sink = new ResultSink(
    farm.store,
    framePath,
    { outputRoot, maxFrameBytes: opts.maxFrameBytes ?? 64 * 1024, ...(opts.stamper ? { stamper: opts.stamper(farm.store) } : {}), ...(opts.shareTransaction ? { shareTransaction: opts.shareTransaction } : {}) },
    clock.now,
    testLog(),
    (jobId) => committed.push(jobId),
  );
  const chunk = farm.chunks[0]!;
  const attemptId = "att_live";
  startAttempt(farm.store, chunk.id, farm.agent.id, attemptId);
  const header: UploadHeader = { jobId: job.id, chunkId: chunk.id, attemptId, agentId: farm.agent.id, frameCount: chunk.frameEnd - chunk.frameStart + 1 };
  return { ...farm, job, outputRoot, sink, header, committed, clock, chunk };
}
