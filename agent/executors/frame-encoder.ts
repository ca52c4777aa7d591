import type { Worker } from "node:worker_threads";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import { encodeRgbFrame, type EncodedPixels, type EncodeReply, type EncodeRequest } from "./frame-encoding.ts";
import { startModuleWorker } from "../../shared/module-worker.ts";

/**
 * PNG encoding and pixel hashing of an executor's output frames on one
 * worker thread of their own (frame-encoder-thread.ts). On the agent's main
 * thread the encoding (the largest part of a small model's frame: about 5 ms
 * of a 12 ms 320x180 colour-grade frame on a quiet core, 30 ms loaded) held
 * back reading the next frame, the upload and the hand-over of the next
 * chunk; on the onnxruntime thread it would hold back the next inference.
 * Frames are encoded in the order they are sent. A frame handed over with
 * `transfer` loses its buffer to the thread (no copy). If the thread cannot
 * start or dies, what it still owed fails and every later frame is encoded
 * on the calling thread (same bytes). Idle, the thread does not keep the
 * process alive.
 */

/** The encoder's thread was closed, or died with frames it had taken. */
export class FrameEncoderError extends Error {
  override readonly name = "FrameEncoderError";
}

// From the compiled CLI (dist/, scripts/build.mjs) the thread is its own built entry beside this chunk.
const ENTRY = new URL(import.meta.url.endsWith(".ts") ? "./frame-encoder-thread.ts" : "./frame-encoder-thread.js", import.meta.url);

/**
 * A thread started when the agent starts, taken by the first encoder, so starting one (bundling and
 * loading the module: about 0.3 s quiet, seconds on a loaded machine) is not paid inside the first chunk.
 */
let spare: Promise<Worker> | undefined;
const exitedThreads = new WeakSet<Worker>();

function startThread(): Promise<Worker> {
  return startModuleWorker(ENTRY).then((w) => {
    w.unref();
    w.once("exit", () => exitedThreads.add(w));
    w.on("error", () => undefined); // a spare's failure shows as its exit; the encoder that takes it listens too
    return w;
  });
}

/** Starts the spare thread if there is none (the model step's factory calls it when the agent starts). */
export function prepareFrameEncoder(): void {
  if (spare !== undefined) return;
  const thread = startThread();
  thread.catch(() => {
    if (spare === thread) spare = undefined;
  });
  spare = thread;
}

async function takeThread(): Promise<Worker> {
  const taken = spare;
  spare = undefined;
  const w = taken === undefined ? undefined : await taken.catch(() => undefined);
  return w !== undefined && !exitedThreads.has(w) ? w : startThread();
}

interface Pending {
  resolve: (pixels: EncodedPixels) => void;
  reject: (err: Error) => void;
}

export class FrameEncoder {
  private readonly pending = new Map<number, Pending>();
  private thread: Promise<Worker | undefined> | undefined;
  private broken = false;
  private closed = false;
  private nextId = 1;

  /** Starts the thread now rather than on the first frame (starting it takes a while). */
  prepare(): void {
    this.started();
  }

  /** The frame's PNG and (with `hash`) the sha256 of its RGB8 samples, with the seconds the encoding took. */
  async encode(frame: RgbFrame, options: { hash: boolean; transfer: boolean }): Promise<EncodedPixels> {
    if (this.closed) throw new FrameEncoderError("the frame encoder is closed");
    const worker = await this.started();
    if (worker === undefined) return encodeRgbFrame(frame, options.hash);
    const id = this.nextId++;
    const whole = frame.data.byteOffset === 0 && frame.data.byteLength === frame.data.buffer.byteLength;
    const transfer = options.transfer && whole ? [frame.data.buffer as ArrayBuffer] : [];
    return new Promise<EncodedPixels>((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ type: "encode", id, frame, hash: options.hash } satisfies EncodeRequest, transfer);
    });
  }

  /** Ends the thread; frames still owed fail. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = await this.thread?.catch(() => undefined);
    this.failPending(new FrameEncoderError("the frame encoder was closed"));
    if (worker !== undefined) await worker.terminate();
  }

  private started(): Promise<Worker | undefined> {
    this.thread ??= takeThread().then(
      (w) => {
        w.on("message", (reply: EncodeReply) => this.settle(w, reply));
        w.on("error", (err) => this.lost(new FrameEncoderError(`the frame encoder thread failed: ${err.message}`, { cause: err })));
        w.on("exit", (code) => this.lost(new FrameEncoderError(`the frame encoder thread exited (code ${code})`)));
        return this.broken ? undefined : w;
      },
      () => {
        this.broken = true;
        return undefined;
      },
    );
    return this.thread.then((w) => (this.broken ? undefined : w));
  }

  private settle(worker: Worker, reply: EncodeReply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) worker.unref();
    if (reply.type === "encoded") p.resolve(reply.pixels);
    else p.reject(Object.assign(new Error(reply.message), { name: reply.name }));
  }

  /** The thread is gone: what it owed fails (its frames were handed over), later frames are encoded here. */
  private lost(err: Error): void {
    this.broken = true;
    this.failPending(err);
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
