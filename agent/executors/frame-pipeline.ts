import type { EncodedFrame, RgbFrame } from "./executor.ts";

/**
 * Per-frame pipelining for an executor whose compute and encoding run off
 * the main thread (the ONNX executor: the model in its worker thread, the
 * PNG encoding and pixel hash in the frame encoder's thread): while frame N
 * is computed, frame N-1 is encoded (started the moment its compute ends),
 * and the main thread reads and decodes the input of frame N+1 and queues it
 * in the worker behind N (so the worker goes from N to N+1 without waiting
 * for this thread to wake); the consumer (the uploader) streams N-1 to the sink.
 *
 * The bound, in frames, for one step: 3 = 1 output encoded or being taken by
 * the consumer (N-1) + 1 being computed (N) + 1 read and queued (N+1); a
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
  /** Encodes one output frame (off the main thread), in the order asked: the frame and the encoding seconds. */
  encode(frame: RgbFrame, index: number): Promise<{ frame: EncodedFrame; seconds: number }>;
  /** Per frame: its compute seconds plus its encoding seconds. */
  onBusy?(seconds: number): void;
  /** Once, when the last frame's compute has ended: the device is free (encoding and upload remain). */
  onDeviceDone?(): void;
  signal: AbortSignal;
}

interface InFlight {
  /** The frame's compute; its encoding starts as soon as it ends. */
  computed: Promise<unknown>;
  encoded: Promise<{ frame: EncodedFrame; seconds: number }>;
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
  const queued: InFlight[] = [];
  const send = async (k: number): Promise<void> => {
    const index = frames[k]!;
    const window = await readWindow(index);
    stop.signal.throwIfAborted();
    const computed = settled(task.compute(window, stop.signal));
    if (k === frames.length - 1) void computed.then(() => task.onDeviceDone?.(), () => undefined);
    const encoded = computed.then(async (c) => {
      stop.signal.throwIfAborted();
      const e = await task.encode(c.frame, index);
      return { frame: e.frame, seconds: c.seconds + e.seconds };
    });
    queued.push({ computed, encoded: settled(encoded) });
  };
  try {
    for (let k = 0; k < Math.min(2, frames.length); k++) await send(k);
    for (let k = 0; k < frames.length; k++) {
      const done = queued.shift() as InFlight;
      await done.computed;
      stop.signal.throwIfAborted();
      // While frame k+1 computes and k is encoded: read frame k+2 and queue it behind k+1.
      if (k + 2 < frames.length) await send(k + 2);
      const encoded = await done.encoded;
      stop.signal.throwIfAborted();
      task.onBusy?.(encoded.seconds);
      yield encoded.frame;
    }
  } finally {
    task.signal.removeEventListener("abort", onAbort);
    if (!stop.signal.aborted) stop.abort(new Error("frame pipeline closed"));
  }
}
