import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { ChunkMeter } from "../../shared/accounting/chunk-accounting.ts";
import type { Logger } from "../../shared/log.ts";
import type { ChunkWork } from "../../shared/protocol/messages.ts";
import type { FrameSource, InputDescription } from "../../shared/media/frame-source.ts";
import type { UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { EncodedFrame, ExecutorProgress, RgbFrame } from "../executors/executor.ts";
import { openDecodedFrameSource } from "../executors/frame-decoder.ts";
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
   * last step is done with the device (its last frame computed, or made), so a chunk claimed ahead waits
   * here while this one encodes, uploads and commits. The release says whether every frame was made.
   */
  slot?: (signal: AbortSignal) => Promise<(allMade: boolean) => void>;
  /** Opens the job's input (default: read and decoded on the decoder thread, agent/executors/frame-decoder.ts); injected by tests. */
  frameSource?: (input: InputDescription) => FrameSource;
}

/** Frames a step may run ahead of the next one in a chain. */
const BUS_CAPACITY = 4;

/**
 * Input frames a model step's chunk reads and decodes while it waits for the slot, so the device goes
 * from one chunk's last frame to the next one's first without waiting for a read. With at most two
 * chunks claimed ahead (claim-ahead.ts), that is at most 4 decoded frames beyond the pipeline's own.
 */
const PREFETCH_FRAMES = 2;

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
  const source: FrameSource | null = work.input ? (deps.frameSource ?? openDecodedFrameSource)(work.input) : null;
  // ONNX model steps never touch files: a chain of them alone makes no folder (two syscalls less through
  // the libuv pool on each chunk's way to the slot, and no recursive rm after its commit).
  const workDir = work.steps.some((s) => s.kind !== "model") ? await mkdtemp(join(deps.workRoot ?? tmpdir(), "nightshift-attempt-")) : undefined;
  const meter = deps.newMeter();
  const toolLog = deps.toolLog ?? new BoundedLog();
  const chain = new AbortController();
  const onAbort = (): void => chain.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let started = false;
  let stopped = false;
  let slotHeld: ((allMade: boolean) => void) | undefined;
  // The first release counts (the device done, or every frame made); later ones do nothing.
  const releaseSlot = (allMade: boolean): void => {
    const release = slotHeld;
    slotHeld = undefined;
    release?.(allMade);
  };
  const finish = async () => {
    stopped = true;
    // The frames are made: the next chunk may run while this one's meter takes its last reading and the
    // upload commits. (Both meters then run; the agent's hand-over, agent/probe/meter-hand-over.ts, has the
    // energy of that time counted by the later one only.)
    releaseSlot(true);
    return await meter.stop();
  };
  const spans = chainSpans(work.steps, { first: work.frameStart, last: work.frameEnd }, { first: work.contextStart, last: work.contextEnd });
  const early = source !== null && work.steps[0]?.kind === "model" ? prefetch(source, firstReads(spans[0]!, halfWindow(work.steps[0]), work.contextStart, work.contextEnd)) : new Map<number, Promise<RgbFrame>>();
  try {
    if (deps.slot) slotHeld = await deps.slot(chain.signal);
    for (const step of work.steps) leases.push(await deps.executors.get(step));
    await meter.start();
    started = true;
    let read: (i: number) => Promise<RgbFrame> = (i) => {
      if (!source) throw new Error(`step ${work.steps[0]?.id} reads input frames but the job has no input`);
      const ahead = early.get(i);
      early.delete(i);
      return ahead ?? source.read(i);
    };
    const pumps: Array<Promise<void>> = [];
    let output: AsyncIterable<EncodedFrame> | undefined;
    for (let k = 0; k < work.steps.length; k++) {
      const step = work.steps[k]!;
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
        // The last step done with the device means every earlier one is too: the next chunk may start.
        ...(k === work.steps.length - 1 ? { onDeviceDone: () => releaseSlot(true) } : {}),
        ...(workDir === undefined ? {} : { workDir: join(workDir, `${k}-${step.id}`) }),
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
    releaseSlot(false);
    await Promise.allSettled(early.values());
    await source?.close();
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The first input frames a step reading `span` with `half` neighbours each side asks for, in its order. */
function firstReads(span: { first: number; last: number }, half: number, contextFirst: number, contextLast: number): number[] {
  const out: number[] = [];
  for (let i = Math.max(contextFirst, span.first - half); i <= Math.min(contextLast, span.last + half) && out.length < PREFETCH_FRAMES; i++) out.push(i);
  return out;
}

/** Starts reading `indices` one after another (a video source decodes in order); failures surface when read. */
function prefetch(source: FrameSource, indices: readonly number[]): Map<number, Promise<RgbFrame>> {
  const early = new Map<number, Promise<RgbFrame>>();
  let before: Promise<unknown> = Promise.resolve();
  for (const i of indices) {
    const p = before.then(() => source.read(i));
    p.catch(() => undefined); // read (and its failure seen) later, or never when the chunk ends first
    early.set(i, p);
    before = p.catch(() => undefined);
  }
  return early;
}
