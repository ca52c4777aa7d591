import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";

export type { RgbFrame };

/**
 * The executor contract. The runner hands an executor one chunk's frames and
 * receives encoded frames back, one at a time, so that they can be streamed to
 * the sink while the rest of the chunk is still running. The scheduler never
 * sees an executor: it only knows the step's `kind` (onnx, command, comfyui)
 * and the model's memory need.
 */

/** One finished output frame, already encoded (PNG), ready to upload. */
export interface EncodedFrame {
  /** Absolute frame index within the job's frame range. */
  index: number;
  /** Encoded bytes (PNG unless the step says otherwise). */
  data: Uint8Array;
  /** "png" (or "exr" where a step makes EXR). */
  format: string;
  /**
   * sha256 of the frame's 8-bit RGB samples (shared/provenance/pixel-hash),
   * where the executor held them before encoding; sent with the frame so the
   * coordinator's provenance need not decode it (it names the hash as the
   * agent's and checks a sample).
   */
  pixelsSha256?: string;
}

/** Live progress inside one frame, for `nightshift watch` (Blender samples, ComfyUI steps). */
export interface ExecutorProgress {
  /** The frame being worked on. */
  frame: number;
  /** 0..1 of that frame's work. */
  fraction: number;
  /** The tool's own words, short ("Sample 32/64"). */
  detail?: string;
}

/** Everything an executor needs to know about the work, independent of transport. */
export interface ExecutorTask {
  jobId: string;
  chunkId: string;
  attemptId: string;
  /** Frame indices to produce, in order. */
  frames: number[];
  seed: number;
  /** Reads input frame `index` (already decoded). */
  readFrame(index: number): Promise<RgbFrame>;
  /**
   * The input frames readFrame may be asked for (a temporal step reads
   * neighbours within these, repeating the edge frame beyond them: a shot cut
   * or the job's range). Absent: exactly `frames`.
   */
  readable?: { first: number; last: number };
  /** Cancelled when the chunk is revoked, the agent drains, or the deadline passes. */
  signal: AbortSignal;
  /** Called after each frame's compute, with the compute seconds, for busy-time accounting. */
  onBusy?(seconds: number): void;
  /**
   * Called once by an executor that knows when it is done with the device (the ONNX executor: its last
   * frame's compute has ended; encoding and upload remain): the runner then lets the next chunk use it.
   * An executor that never calls it holds the device until its last frame is taken.
   */
  onDeviceDone?(): void;
  /** A folder of this attempt's own (created, emptied afterwards by the runner) for files the tool writes. */
  workDir?: string;
  /** Progress inside a frame. */
  onProgress?(progress: ExecutorProgress): void;
  /** The tool's own output (stdout/stderr lines), kept bounded by the runner and shown by `nightshift job logs`. */
  onLog?(text: string): void;
}

export interface Executor {
  /** The step kind it runs: "model", "blender", "command", "comfyui" (or "sleep" in benchmarks). */
  readonly kind: string;
  /** Prepare (load model, warm up). Safe to call more than once. */
  load(): Promise<void>;
  /** Yields encoded frames in order. Must stop promptly when task.signal aborts. */
  run(task: ExecutorTask): AsyncIterable<EncodedFrame>;
  /** Frees the model and native memory. Safe to call twice. */
  close(): Promise<void>;
}

export type { ChunkAccounting };
