import { parentPort } from "node:worker_threads";
import type { InferenceSession } from "onnxruntime-node";
import type { OnnxWorkerModel, OnnxWorkerReply, OnnxWorkerRequest } from "./onnx-worker-messages.ts";
import { errorData } from "./thread-errors.ts";
import { openOnnxSession, runModelOnWindow } from "./onnx-session.ts";
import { nameThisThread } from "../../shared/thread-name.ts";

/**
 * The body of the worker thread that holds one onnxruntime session
 * (started by onnx-worker.ts, possibly before its model is known: loading
 * onnxruntime takes a while). onnxruntime-node runs a session on the thread
 * that calls it, synchronously: here that blocks only this thread, so the
 * agent's event loop (heartbeats, gRPC keepalives, uploads) keeps running.
 * Runs are served one at a time in arrival order; a cancel is honoured
 * between tiles (session.run yields to this thread's event loop before it
 * starts, so a cancel message is read between two tiles).
 */

if (parentPort === null) throw new Error("onnx-worker-thread.ts runs inside a worker thread only");
nameThisThread("ns-onnx");
const port = parentPort;
const cancelled = new Set<number>();
let model: OnnxWorkerModel | undefined;
let session: InferenceSession | undefined;
let queue: Promise<void> = Promise.resolve();

class RunCancelledError extends Error {
  override readonly name = "AbortError";
}

const reply = (message: OnnxWorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

async function run({ id, frames }: Extract<OnnxWorkerRequest, { type: "run" }>): Promise<void> {
  const stopIfCancelled = (): void => {
    if (cancelled.has(id)) throw new RunCancelledError(`run ${id} cancelled`);
  };
  try {
    stopIfCancelled();
    if (session === undefined || model === undefined) throw new Error("no onnxruntime session is open in this worker");
    const started = performance.now();
    const frame = await runModelOnWindow(session, model.manifest, frames, { beforeTile: stopIfCancelled });
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

async function open(id: number, wanted: OnnxWorkerModel): Promise<void> {
  try {
    if (model !== undefined) throw new Error(`this worker already holds ${model.modelPath}`);
    session = await openOnnxSession(wanted.modelPath, wanted.manifest, wanted.options);
    model = wanted;
    reply({ type: "opened", id });
  } catch (err) {
    reply({ type: "opened", id, error: errorData(err) });
  }
}

port.on("message", (msg: OnnxWorkerRequest) => {
  if (msg.type === "cancel") {
    cancelled.add(msg.id);
    return;
  }
  queue = queue.then(() => (msg.type === "open" ? open(msg.id, msg.model) : msg.type === "run" ? run(msg) : close(msg.id)));
});

