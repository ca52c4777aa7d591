import type { EncodedFrame, RgbFrame } from "./executor.ts";

/**
 * Per-frame pipelining for an executor whose compute runs off the main
 * thread (the ONNX executor's worker): while frame N is computed, the main
 * thread reads and decodes the input of frame N+1 and queues it in the
 * worker behind N (so the worker goes from N to N+1 without waiting for this
 * thread to wake), and encodes frame N-1, which the consumer (the uploader)
 * streams to the sink.
 *
 * The bound, in frames, for one step: 3 = 1 output being encoded and taken
 * by the consumer (N-1) + 1 being computed (N) + 1 read and queued (N+1); a
 * temporal model also holds its window of 2h+1 input frames. Frame N+1 is
 * read only after the consumer has taken frame N-2, so a slow sink pauses
 * compute instead of filling memory. Frames come out in order.
 */
export interface FramePipelineTask {
  /** Frame indices to produce, in order. */
  frames: readonly number[];
  /** Neighbours on each side a frame's window holds (0: per-frame). */
  half: number;
  /** The input frames that may be read; a window repeats the edge frame beyond them. */
  first: number;
  last: number;
  read(index: number): Promise<RgbFrame>;
  /** Computes one output frame from its window off the main thread: the frame and the compute seconds. */
  compute(window: RgbFrame[], signal: AbortSignal): Promise<{ frame: RgbFrame; seconds: number }>;
  /** Encodes one output frame (on the main thread, overlapping the next compute). */
  encode(frame: RgbFrame, index: number): EncodedFrame;
  /** Per frame: its compute seconds plus its encoding seconds. */
  onBusy?(seconds: number): void;
  /** Monotonic clock in seconds (times the encoding). */
  clock: () => number;
  signal: AbortSignal;
}

interface Computing {
  index: number;
  output: Promise<{ frame: RgbFrame; seconds: number }>;
}

export async function* pipelineFrames(task: FramePipelineTask): AsyncGenerator<EncodedFrame> {
  const { frames, half, first, last } = task;
  // Ours, so that leaving early (an abort, or the consumer stopping) also stops the compute in flight.
  task.signal.throwIfAborted();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(task.signal.reason);
  task.signal.addEventListener("abort", onAbort, { once: true });
  const held = new Map<number, RgbFrame>();
  const windowOf = (index: number): number[] => {
    const wanted: number[] = [];
    for (let j = index - half; j <= index + half; j++) wanted.push(Math.min(last, Math.max(first, j)));
    return wanted;
  };
  // Reads the frames `index`'s window lacks, one at a time in order; drops those no later window needs.
  const readWindow = async (index: number): Promise<RgbFrame[]> => {
    const wanted = windowOf(index);
    for (const k of held.keys()) if (k < wanted[0]!) held.delete(k);
    for (const j of wanted) if (!held.has(j)) held.set(j, await task.read(j));
    return wanted.map((j) => held.get(j) as RgbFrame);
  };
  const settled = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined); // awaited later; until then its failure must not count as unhandled
    return p;
  };
  // Frames sent to the worker, oldest first: the one it computes and the next, so it never waits for this thread.
  const queued: Computing[] = [];
  const send = async (k: number): Promise<void> => {
    const window = await readWindow(frames[k]!);
    stop.signal.throwIfAborted();
    queued.push({ index: frames[k]!, output: settled(task.compute(window, stop.signal)) });
  };
  try {
    for (let k = 0; k < Math.min(2, frames.length); k++) await send(k);
    for (let k = 0; k < frames.length; k++) {
      const done = queued.shift() as Computing;
      const computed = await done.output;
      stop.signal.throwIfAborted();
      // While frame k+1 computes: read frame k+2 and queue it behind k+1, then encode frame k for the consumer (the upload).
      if (k + 2 < frames.length) await send(k + 2);
      const encoding = task.clock();
      const encoded = task.encode(computed.frame, done.index);
      task.onBusy?.(computed.seconds + Math.max(0, task.clock() - encoding));
      yield encoded;
    }
  } finally {
    task.signal.removeEventListener("abort", onAbort);
    if (!stop.signal.aborted) stop.abort(new Error("frame pipeline closed"));
  }
}
