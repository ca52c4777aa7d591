import type { ChunkMeter } from "../../shared/accounting/chunk-accounting.ts";
import type { Logger } from "../../shared/log.ts";
import type { ChunkWork } from "../../shared/protocol/messages.ts";
import { createFrameSource } from "../../shared/media/frame-source.ts";
import type { UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { EncodedFrame } from "../executors/executor.ts";
import type { ExecutorCache } from "./executor-cache.ts";

export interface ChunkRunnerDeps {
  executors: ExecutorCache;
  newMeter: () => ChunkMeter;
  /** Streams frames to the sink; resolves when the sink committed. */
  upload: (work: ChunkWork, frames: AsyncIterable<EncodedFrame>, finish: () => ReturnType<ChunkMeter["stop"]>, signal: AbortSignal) => Promise<UploadResult>;
  log: Logger;
}

/**
 * Runs one claimed chunk: loads (or reuses) the executor, reads input frames,
 * measures the run, and streams every frame to the sink as soon as it exists.
 */
export async function runChunk(work: ChunkWork, deps: ChunkRunnerDeps, signal: AbortSignal): Promise<UploadResult> {
  const log = deps.log.child({ jobId: work.jobId, chunkId: work.chunkId, attemptId: work.attemptId });
  const executor = await deps.executors.get(work.step);
  const source = createFrameSource(work.input);
  const meter = deps.newMeter();
  const frames: number[] = [];
  for (let i = work.frameStart; i <= work.frameEnd; i++) frames.push(i);
  await meter.start();
  let stopped = false;
  const finish = async () => {
    stopped = true;
    return meter.stop();
  };
  try {
    const output = executor.run({
      jobId: work.jobId,
      chunkId: work.chunkId,
      attemptId: work.attemptId,
      frames,
      seed: work.seed,
      readFrame: (i) => source.read(i),
      signal,
      onBusy: (s) => meter.markBusy(s),
    });
    const result = await deps.upload(work, output, finish, signal);
    log.info({ frames: frames.length, committed: result.committed }, "chunk uploaded");
    return result;
  } finally {
    if (!stopped) await meter.stop().catch(() => undefined);
    await source.close();
  }
}
