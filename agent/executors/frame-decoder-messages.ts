import type { InputDescription } from "../../shared/media/frame-source.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import type { WorkerErrorData } from "./thread-errors.ts";

/**
 * The messages between the agent's main thread (frame-decoder.ts) and the
 * input decoder's thread (frame-decoder-thread.ts). Both ends are this code
 * base, in one process, so these are plain types rather than a schema. A
 * source is opened in the thread by the id the main side gave it; every read
 * has an id, and its one reply names it. A decoded frame comes back with its
 * buffer transferred.
 */
export type DecodeRequest =
  | { type: "open"; source: number; input: InputDescription }
  | { type: "read"; id: number; source: number; index: number }
  | { type: "close"; source: number };

export type DecodeReply = { type: "frame"; id: number; frame: RgbFrame } | { type: "failed"; id: number; error: WorkerErrorData };
