import type { Worker } from "node:worker_threads";
import { createFrameSource, type FrameSource, type InputDescription } from "../../shared/media/frame-source.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import type { DecodeReply, DecodeRequest } from "./frame-decoder-messages.ts";
import { startModuleWorker } from "../../shared/module-worker.ts";
import { errorFrom } from "./thread-errors.ts";

/**
 * A chunk's input frames read and decoded on one worker thread per agent
 * process (frame-decoder-thread.ts) instead of the agent's main thread. On
 * the main thread, generating the demo's input (about 10 ms a 320x180 frame
 * on a loaded core) or decoding an image sequence's PNGs (pngjs) competed
 * with the uploads, heartbeats and the hand-over of frames to the
 * onnxruntime thread. The decoded frame comes back with its buffer
 * transferred (no copy).
 *
 * Memory bound: the thread decodes only the frame it is asked for, one at a
 * time in the order asked; it reads nothing ahead. So the frames in flight
 * are the reader's own (per ONNX step: 3, plus a temporal model's window,
 * plus 2 per chunk waiting for the slot; see frame-pipeline.ts and
 * chunk-runner.ts), of which at most one is being decoded here.
 *
 * A video input stays on the calling thread: its decoder is an ffmpeg
 * process already, and a long-lived child process should not belong to a
 * thread that may die. Generated and image-sequence reads are stateless, so
 * if the thread cannot start or dies, a read it owed is done again on the
 * calling thread (same pixels) and every later one is done there too.
 */

// From the compiled CLI (dist/, scripts/build.mjs) the thread is its own built entry beside this chunk.
const ENTRY = new URL(import.meta.url.endsWith(".ts") ? "./frame-decoder-thread.ts" : "./frame-decoder-thread.js", import.meta.url);

/** The decoder's thread is gone (it died, or could not start): the read is redone on the calling thread. */
class DecoderThreadLost extends Error {
  override readonly name = "DecoderThreadLost";
}

interface Pending {
  resolve: (frame: RgbFrame) => void;
  reject: (err: Error) => void;
}

/** The process's one decoder thread, seen from the main thread. */
class DecoderThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  lost = false;

  constructor(private readonly worker: Worker) {
    worker.on("message", (reply: DecodeReply) => this.settle(reply));
    worker.on("error", () => this.lose());
    worker.once("exit", () => this.lose());
    // After the listeners: adding a "message" listener refs the worker's port again, and a ref'd
    // idle thread keeps the process from exiting.
    worker.unref();
  }

  post(message: DecodeRequest): void {
    if (!this.lost) this.worker.postMessage(message);
  }

  read(source: number, index: number): Promise<RgbFrame> {
    if (this.lost) return Promise.reject(new DecoderThreadLost("the input decoder thread is gone"));
    const id = this.nextId++;
    return new Promise<RgbFrame>((resolve, reject) => {
      // A thread with reads outstanding keeps the process alive; an idle one does not.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.post({ type: "read", id, source, index });
    });
  }

  private settle(reply: DecodeReply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.type === "frame") p.resolve(reply.frame);
    else p.reject(errorFrom(reply.error));
  }

  private lose(): void {
    this.lost = true;
    for (const p of this.pending.values()) p.reject(new DecoderThreadLost("the input decoder thread died"));
    this.pending.clear();
  }
}

let thread: Promise<DecoderThread | undefined> | undefined;

/** The decoder thread, started on first use (or by prepareFrameDecoder); undefined when it cannot run. */
function decoderThread(): Promise<DecoderThread | undefined> {
  thread ??= startModuleWorker(ENTRY).then(
    (w) => new DecoderThread(w),
    () => undefined,
  );
  return thread;
}

/**
 * Starts the decoder thread now (the agent calls it when it starts), so starting it is not paid inside
 * the first chunk. Resolves once the thread runs (or could not start); callers need not wait.
 */
export async function prepareFrameDecoder(): Promise<void> {
  await decoderThread();
}

let nextSource = 1;

/**
 * The job's input as a FrameSource whose reads run on the decoder thread
 * (a video's on the calling thread). The description is checked here, at
 * once, with the same errors createFrameSource gives.
 */
export function openDecodedFrameSource(input: InputDescription): FrameSource & { readonly threadReads: number } {
  const local = createFrameSource(input);
  if (input.type === "video") return Object.assign(local, { threadReads: 0 });
  return new ThreadedFrameSource(input, local);
}

class ThreadedFrameSource implements FrameSource {
  private readonly id = nextSource++;
  private opened: DecoderThread | undefined;
  private closed = false;
  /** Reads the thread answered (the rest ran on the calling thread). */
  threadReads = 0;

  constructor(
    private readonly input: InputDescription,
    private readonly local: FrameSource,
  ) {}

  frameCount(): Promise<number> {
    return this.local.frameCount();
  }

  async read(index: number): Promise<RgbFrame> {
    if (this.closed) throw new Error("input frame source is closed");
    const t = await decoderThread();
    if (t === undefined || t.lost) return this.local.read(index);
    if (this.opened !== t) {
      t.post({ type: "open", source: this.id, input: this.input });
      this.opened = t;
    }
    try {
      const frame = await t.read(this.id, index);
      this.threadReads++;
      return frame;
    } catch (err) {
      if (err instanceof DecoderThreadLost) return this.local.read(index);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opened?.post({ type: "close", source: this.id });
    await this.local.close();
  }
}
