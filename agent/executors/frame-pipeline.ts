import type { EncodedFrame, RgbFrame } from "./executor.ts";

/**
 * Per-frame pipelining for an executor whose compute runs off the main
 * thread (the ONNX executor's worker): while frame N is computed, the main
 * thread reads and decodes the input of frame N+1 and encodes frame N-1,
 * which the consumer (the uploader) streams to the sink.
 *
 * The bound, in frames, for one step: 1 output waiting to be encoded and
 * taken by the consumer (N-1) + 1 being computed (N) + the inputs of N+1
 * read ahead (one new frame; a temporal model holds its window of 2h+1
 * input frames, then one more). Frame N+1 is not started before the
 * consumer has taken N-1, so a slow sink pauses compute instead of filling
 * memory. Frames come out in order.
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
  let computing: Computing | undefined;
  try {
    let reading = frames.length > 0 ? settled(readWindow(frames[0]!)) : undefined;
    for (let k = 0; k <= frames.length; k++) {
      // Frame k-1 first: wait for its compute (the read of k's window overlapped it).
      const done = computing;
      const computed = done === undefined ? undefined : await done.output;
      stop.signal.throwIfAborted();
      // Then frame k goes to compute at once, and k+1's window is read while it runs.
      computing = undefined;
      if (k < frames.length) {
        const window = await (reading as Promise<RgbFrame[]>);
        stop.signal.throwIfAborted();
        computing = { index: frames[k]!, output: settled(task.compute(window, stop.signal)) };
        reading = k + 1 < frames.length ? settled(readWindow(frames[k + 1]!)) : undefined;
      }
      // Meanwhile frame k-1 is encoded and handed to the consumer (the upload).
      if (done !== undefined && computed !== undefined) {
        const encoding = task.clock();
        const encoded = task.encode(computed.frame, done.index);
        task.onBusy?.(computed.seconds + Math.max(0, task.clock() - encoding));
        yield encoded;
      }
    }
  } finally {
    task.signal.removeEventListener("abort", onAbort);
    if (!stop.signal.aborted) stop.abort(new Error("frame pipeline closed"));
  }
}
