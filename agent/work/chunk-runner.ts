import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { ChunkMeter } from "../../shared/accounting/chunk-accounting.ts";
import type { Logger } from "../../shared/log.ts";
import type { ChunkWork } from "../../shared/protocol/messages.ts";
import { createFrameSource, type FrameSource } from "../../shared/media/frame-source.ts";
import type { UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { EncodedFrame, ExecutorProgress, RgbFrame } from "../executors/executor.ts";
import type { ExecutorCache, ExecutorLease } from "./executor-cache.ts";
import { BoundedLog } from "./bounded-log.ts";
import { chainSpans, halfWindow, spanFrames } from "./chain-ranges.ts";
import { FrameBus } from "./frame-bus.ts";

export interface ChunkRunnerDeps {
  executors: ExecutorCache;
  newMeter: () => ChunkMeter;
  /** Streams frames to the sink; resolves when the sink committed. */
  upload: (work: ChunkWork, frames: AsyncIterable<EncodedFrame>, finish: () => ReturnType<ChunkMeter["stop"]>, signal: AbortSignal) => Promise<UploadResult>;
  log: Logger;
  /** Where attempts get their work folders (default: the OS temp dir). */
  workRoot?: string;
  /** Progress inside a frame (Blender samples, ComfyUI steps), for heartbeats. */
  onProgress?: (p: ExecutorProgress) => void;
  /** The attempt's tool output, kept bounded; also handed over when the chunk fails. */
  toolLog?: BoundedLog;
  /**
   * The executor slot (agent/work/executor-slot.ts): held from before the executors are built until the
   * last frame is made, so a chunk claimed ahead waits here while this one uploads and commits.
   */
  slot?: (signal: AbortSignal) => Promise<() => void>;
}

/** Frames a step may run ahead of the next one in a chain. */
const BUS_CAPACITY = 4;

/**
 * Runs one claimed chunk through its chain of frame steps on this agent: each
 * step's executor comes from the registry, the first reads the job's input
 * (or makes frames from nothing: Blender, ComfyUI), each later one reads the
 * previous step's frames as they are made, and a frame leaves the agent only
 * when the last step has made it, streamed to the sink at once.
 */
export async function runChunk(work: ChunkWork, deps: ChunkRunnerDeps, signal: AbortSignal): Promise<UploadResult> {
  const log = deps.log.child({ jobId: work.jobId, chunkId: work.chunkId, attemptId: work.attemptId });
  const leases: ExecutorLease[] = [];
  const source: FrameSource | null = work.input ? createFrameSource(work.input) : null;
  const workDir = await mkdtemp(join(deps.workRoot ?? tmpdir(), "nightshift-attempt-"));
  const meter = deps.newMeter();
  const toolLog = deps.toolLog ?? new BoundedLog();
  const chain = new AbortController();
  const onAbort = (): void => chain.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let started = false;
  let stopped = false;
  let releaseSlot = (): void => undefined;
  const finish = async () => {
    stopped = true;
    // The frames are made: the next chunk may run while this one's meter takes its last reading and the
    // upload commits. (The two meters' intervals then overlap by that reading, a few ms at most.)
    releaseSlot();
    return await meter.stop();
  };
  try {
    if (deps.slot) releaseSlot = await deps.slot(chain.signal);
    for (const step of work.steps) leases.push(await deps.executors.get(step));
    const spans = chainSpans(work.steps, { first: work.frameStart, last: work.frameEnd }, { first: work.contextStart, last: work.contextEnd });
    await meter.start();
    started = true;
    let read: (i: number) => Promise<RgbFrame> = (i) => {
      if (!source) throw new Error(`step ${work.steps[0]?.id} reads input frames but the job has no input`);
      return source.read(i);
    };
    const pumps: Array<Promise<void>> = [];
    let output: AsyncIterable<EncodedFrame> | undefined;
    for (let k = 0; k < work.steps.length; k++) {
      const step = work.steps[k]!;
      const stepDir = join(workDir, `${k}-${step.id}`);
      const frames = spanFrames(spans[k]!);
      const stream = leases[k]!.executor.run({
        jobId: work.jobId,
        chunkId: work.chunkId,
        attemptId: work.attemptId,
        frames,
        seed: work.seed,
        readFrame: read,
        readable: k === 0 ? { first: work.contextStart, last: work.contextEnd } : { first: spans[k - 1]!.first, last: spans[k - 1]!.last },
        signal: chain.signal,
        onBusy: (s) => meter.markBusy(s),
        workDir: stepDir,
        onProgress: (p) => deps.onProgress?.(p),
        onLog: (text) => toolLog.append(text),
      });
      if (k === work.steps.length - 1) {
        output = stream;
        break;
      }
      const next = work.steps[k + 1]!;
      const bus = new FrameBus(BUS_CAPACITY + 2 * halfWindow(next), 2 * halfWindow(next) + 1);
      pumps.push(
        bus.pump(stream, `step ${step.id}`).then(() => undefined),
      );
      chain.signal.addEventListener("abort", () => bus.fail(chain.signal.reason), { once: true });
      read = (i) => bus.read(i);
    }
    const result = await deps.upload(work, output as AsyncIterable<EncodedFrame>, finish, chain.signal).finally(() => chain.abort(new Error("chunk settled")));
    await Promise.all(pumps);
    log.info({ frames: work.frameEnd - work.frameStart + 1, steps: work.steps.length, committed: result.committed }, "chunk uploaded");
    return result;
  } catch (err) {
    if (!chain.signal.aborted) chain.abort(err);
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
    // A meter that never started (an executor that could not be built) is never stopped: its stop waits for a start.
    if (started && !stopped) await meter.stop().catch(() => undefined);
    for (const l of leases) await l.release().catch(() => undefined);
    releaseSlot();
    await source?.close();
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
