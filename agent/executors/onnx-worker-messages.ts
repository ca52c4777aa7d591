import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import type { ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";
import type { OnnxSessionOptions } from "./onnx-session.ts";
import type { WorkerErrorData } from "./thread-errors.ts";

/**
 * The messages between the agent's main thread (onnx-worker.ts) and the
 * worker thread that holds one onnxruntime session (onnx-worker-thread.ts).
 * Both ends are this code base, in one process, so these are plain types
 * rather than a schema. Every request has an id; its one reply names it.
 * Frame pixels travel as transferred ArrayBuffers where the sender owns them.
 */

/** The one model a worker opens, once. */
export interface OnnxWorkerModel {
  modelPath: string;
  manifest: ModelManifest;
  options: OnnxSessionOptions;
}

export type OnnxWorkerRequest =
  /** Open the model's session (the first request; a thread may be started before its model is known). */
  | { type: "open"; id: number; model: OnnxWorkerModel }
  /** Run the model on a window of frames (one frame for a per-frame model); one frame back. */
  | { type: "run"; id: number; frames: RgbFrame[] }
  /** Stop run `id` at the next tile boundary (a tile already inside onnxruntime finishes). */
  | { type: "cancel"; id: number }
  /** Release the session; the worker then exits. */
  | { type: "close"; id: number };

export type OnnxWorkerReply =
  /** The session is open, or could not be opened (`error`). */
  | { type: "opened"; id: number; error?: WorkerErrorData }
  /** Run `id` finished: the frame (its buffer transferred) and the seconds the worker spent on it. */
  | { type: "ran"; id: number; frame: RgbFrame; seconds: number }
  /** An error as it crosses the thread boundary (thread-errors.ts: BadInputError keeps its field). */
  | { type: "failed"; id: number; error: WorkerErrorData }
  | { type: "closed"; id: number };
