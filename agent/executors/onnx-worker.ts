import type { Worker } from "node:worker_threads";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import type { ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";
import { startModuleWorker } from "../../shared/module-worker.ts";
import type { OnnxWorkerReply, OnnxWorkerRequest } from "./onnx-worker-messages.ts";
import { errorFrom } from "./thread-errors.ts";
import type { OnnxSessionOptions } from "./onnx-session.ts";

/**
 * One onnxruntime session in its own worker thread (onnx-worker-thread.ts),
 * seen from the agent's main thread. onnxruntime-node runs a session
 * synchronously on the thread that calls it; a 256 px tile of the upscaler
 * takes about a second on a quiet CPU (tens on a loaded one), which on the
 * main thread stopped heartbeats and gRPC keepalives. Here the main thread
 * only posts messages: input frames are copied into the message (they are
 * borrowed: a frame source or a chain's frame bus may still hold them, and
 * a temporal window re-sends its neighbours), the output frame comes back
 * with its buffer transferred (no copy).
 */

/** The worker thread died or was closed while work was asked of it. */
export class OnnxWorkerError extends Error {
  override readonly name = "OnnxWorkerError";
}

// From the compiled CLI (dist/, scripts/build.mjs) the thread is its own built entry beside this chunk.
const ENTRY = new URL(import.meta.url.endsWith(".ts") ? "./onnx-worker-thread.ts" : "./onnx-worker-thread.js", import.meta.url);

/**
 * A thread started ahead of need, onnxruntime loaded, no model yet: the
 * first model opened in this process takes it, so starting a thread (about
 * 0.3 s quiet, seconds on a loaded machine) is not paid inside a chunk.
 * At most one; idle, it does not keep the process alive.
 */
let spare: Promise<Worker> | undefined;
const exitedThreads = new WeakSet<Worker>();

/** Starts the spare thread if there is none (the agent calls it when it starts). */
export function prepareOnnxWorker(): void {
  spare ??= startThread();
}

function startThread(): Promise<Worker> {
  const thread = startModuleWorker(ENTRY).then((w) => {
    w.unref();
    w.once("exit", () => {
      exitedThreads.add(w);
      if (spare === thread) spare = undefined;
    });
    w.on("error", () => undefined); // a spare's failure shows as its exit; a taken thread's owner listens too
    return w;
  });
  thread.catch(() => {
    if (spare === thread) spare = undefined;
  });
  return thread;
}

async function takeThread(): Promise<Worker> {
  const taken = spare;
  spare = undefined;
  const w = taken === undefined ? undefined : await taken.catch(() => undefined);
  return w !== undefined && !exitedThreads.has(w) ? w : startThread();
}

/** How long close() waits for the current run to end and the session to be released before terminating the thread. */
const CLOSE_GRACE_MS = 30_000;

interface Pending {
  resolve: (reply: OnnxWorkerReply) => void;
  reject: (err: unknown) => void;
}

export class OnnxWorker {
  private readonly pending = new Map<number, Pending>();
  private readonly exited: Promise<number>;
  private nextId = 1;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  /** Takes a thread (the spare, else a new one) and opens the model's session there; its errors (BadInputError with its field) are rethrown here. */
  static async open(modelPath: string, manifest: ModelManifest, options: OnnxSessionOptions = {}): Promise<OnnxWorker> {
    const w = new OnnxWorker(await takeThread());
    try {
      const id = w.nextId++;
      await w.request(id, { type: "open", id, model: { modelPath, manifest, options } });
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  private constructor(private readonly worker: Worker) {
    worker.on("message", (reply: OnnxWorkerReply) => this.settle(reply));
    worker.on("error", (err) => this.fail(new OnnxWorkerError(`the onnxruntime worker thread failed: ${err.message}`, { cause: err })));
    this.exited = new Promise((resolve) =>
      worker.once("exit", (code) => {
        this.fail(new OnnxWorkerError(`the onnxruntime worker thread exited (code ${code})`));
        resolve(code);
      }),
    );
  }

  /** False once the thread has died or been closed: the owner opens a new one. */
  get usable(): boolean {
    return this.failure === undefined && this.closing === undefined;
  }

  /**
   * The model on a window of frames (one for a per-frame model), one frame
   * out, with the seconds the worker spent. An abort rejects at once with the
   * signal's reason and asks the worker to stop at its next tile.
   */
  async run(frames: readonly RgbFrame[], signal?: AbortSignal): Promise<{ frame: RgbFrame; seconds: number }> {
    signal?.throwIfAborted();
    const id = this.nextId++;
    const onAbort = (): void => {
      this.post({ type: "cancel", id });
      this.pending.get(id)?.reject(signal?.reason);
      this.forget(id);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const reply = await this.request(id, { type: "run", id, frames: [...frames] });
      if (reply.type !== "ran") throw new OnnxWorkerError(`unexpected reply ${reply.type} to a run`);
      return { frame: reply.frame, seconds: reply.seconds };
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Releases the session and ends the thread (after the run in progress, if any). Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.failure === undefined) {
        const id = this.nextId++;
        await this.request(id, { type: "close", id }).catch(() => undefined);
      }
      const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.closing;
  }

  /** Sends `message` and waits for the reply with its id. */
  private request(id: number, message: OnnxWorkerRequest): Promise<OnnxWorkerReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const reply = new Promise<OnnxWorkerReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // A thread with work outstanding keeps the process alive; an idle one does not.
    this.worker.ref();
    this.post(message);
    return reply;
  }

  private post(message: OnnxWorkerRequest): void {
    if (this.failure === undefined) this.worker.postMessage(message);
  }

  private settle(reply: OnnxWorkerReply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return; // an aborted run's late answer
    this.forget(reply.id);
    const error = reply.type === "failed" || reply.type === "opened" ? reply.error : undefined;
    if (error !== undefined) p.reject(errorFrom(error));
    else p.resolve(reply);
  }

  private forget(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
