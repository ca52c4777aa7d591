import { parentPort, workerData } from "node:worker_threads";
import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../../shared/errors.ts";
import type { OnnxWorkerReply, OnnxWorkerRequest, OnnxWorkerStart, WorkerErrorData } from "./onnx-worker-messages.ts";
import { openOnnxSession, runModelOnWindow } from "./onnx-session.ts";

/**
 * The body of the worker thread that holds one onnxruntime session
 * (started by onnx-worker.ts). onnxruntime-node runs a session on the thread
 * that calls it, synchronously: here that blocks only this thread, so the
 * agent's event loop (heartbeats, gRPC keepalives, uploads) keeps running.
 * Runs are served one at a time in arrival order; a cancel is honoured
 * between tiles (session.run yields to this thread's event loop before it
 * starts, so a cancel message is read between two tiles).
 */

if (parentPort === null) throw new Error("onnx-worker-thread.ts runs inside a worker thread only");
const port = parentPort;
const start = workerData as OnnxWorkerStart;
const cancelled = new Set<number>();
let session: InferenceSession | undefined;

class RunCancelledError extends Error {
  override readonly name = "AbortError";
}

const errorData = (err: unknown): WorkerErrorData => {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message, ...(err instanceof BadInputError && err.field !== undefined ? { field: err.field } : {}) };
};

const reply = (message: OnnxWorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

async function run({ id, frames }: Extract<OnnxWorkerRequest, { type: "run" }>): Promise<void> {
  const stopIfCancelled = (): void => {
    if (cancelled.has(id)) throw new RunCancelledError(`run ${id} cancelled`);
  };
  try {
    stopIfCancelled();
    if (session === undefined) throw new Error("the onnxruntime session is closed");
    const started = performance.now();
    const frame = await runModelOnWindow(session, start.manifest, frames, { beforeTile: stopIfCancelled });
    // tensorToFrame and the tile blender make a fresh buffer of exactly the frame: safe to hand over.
    reply({ type: "ran", id, frame, seconds: (performance.now() - started) / 1000 }, [frame.data.buffer as ArrayBuffer]);
  } catch (err) {
    reply({ type: "failed", id, error: errorData(err) });
  } finally {
    cancelled.delete(id);
  }
}

async function close(id: number): Promise<void> {
  const s = session;
  session = undefined;
  await s?.release().catch(() => undefined);
  reply({ type: "closed", id });
  port.close();
}

/** Opens the session; every request waits for it (the main thread sends none before "opened" anyway). */
let queue: Promise<void> = openOnnxSession(start.modelPath, start.manifest, start.options).then(
  (s) => {
    session = s;
    reply({ type: "opened", id: 0 });
  },
  (err: unknown) => {
    reply({ type: "opened", id: 0, error: errorData(err) });
    port.close();
  },
);

port.on("message", (msg: OnnxWorkerRequest) => {
  if (msg.type === "cancel") {
    cancelled.add(msg.id);
    return;
  }
  queue = queue.then(() => (msg.type === "run" ? run(msg) : close(msg.id)));
});

