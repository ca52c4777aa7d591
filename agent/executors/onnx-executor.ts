import type { InferenceSession } from "onnxruntime-node";
import { encodePng } from "../../shared/media/png-codec.ts";
import type { ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";
import type { EncodedFrame, Executor, ExecutorTask, RgbFrame } from "./executor.ts";
import { openOnnxSession, runModelOnFrame, runModelOnWindow } from "./onnx-session.ts";
import { modelWindow } from "../../shared/model-manifest/frame-tensor.ts";

export interface OnnxExecutorOptions {
  manifest: ModelManifest;
  /** The model file; verify its sha256 (shared/model-manifest) before handing it here. */
  modelPath: string;
  /** Default ["cpu"]; ["cuda", "cpu"] opts into the GPU where onnxruntime has CUDA. */
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Monotonic clock in seconds, for busy-time accounting; injectable for tests. */
  clock?: () => number;
}

const monotonicSeconds = (): number => performance.now() / 1000;

/**
 * Runs a per-frame ONNX model: each frame is read, converted to the model's
 * layout, run, rounded back to RGB8 (Math.round(clamp01(v) * 255)) and
 * encoded as PNG. Frames are processed one at a time, so memory stays at one
 * frame's worth, and the abort signal is checked between frames.
 */
export class OnnxExecutor implements Executor {
  readonly kind = "onnx";
  private session: InferenceSession | undefined;
  private loading: Promise<InferenceSession> | undefined;
  private readonly clock: () => number;

  constructor(private readonly options: OnnxExecutorOptions) {
    this.clock = options.clock ?? monotonicSeconds;
  }

  get manifest(): ModelManifest {
    return this.options.manifest;
  }

  async load(): Promise<void> {
    await this.ensureSession();
  }

  async *run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    const session = await this.ensureSession();
    const half = Math.floor(modelWindow(this.options.manifest) / 2);
    const first = task.readable?.first ?? task.frames[0] ?? 0;
    const last = task.readable?.last ?? task.frames[task.frames.length - 1] ?? 0;
    const window = new Map<number, RgbFrame>();
    for (const index of task.frames) {
      task.signal.throwIfAborted();
      // A temporal model sees the frame and `half` neighbours on each side; the edge frame repeats past a cut.
      const wanted: number[] = [];
      for (let j = index - half; j <= index + half; j++) wanted.push(Math.min(last, Math.max(first, j)));
      for (const k of window.keys()) if (k < wanted[0]!) window.delete(k);
      for (const j of wanted) if (!window.has(j)) window.set(j, await task.readFrame(j));
      task.signal.throwIfAborted();
      const started = this.clock();
      const output = await runModelOnWindow(session, this.options.manifest, wanted.map((j) => window.get(j) as RgbFrame));
      const data = encodePng(output);
      task.onBusy?.(Math.max(0, this.clock() - started));
      task.signal.throwIfAborted();
      yield { index, data, format: "png" };
    }
  }

  /** One frame through the model, RGB8 in and out, outside any task. */
  async gradeFrame(frame: RgbFrame): Promise<RgbFrame> {
    return runModelOnFrame(await this.ensureSession(), this.options.manifest, frame);
  }

  async close(): Promise<void> {
    const pending = this.loading;
    this.loading = undefined;
    this.session = undefined;
    if (pending === undefined) return;
    const session = await pending.catch(() => undefined);
    await session?.release();
  }

  private ensureSession(): Promise<InferenceSession> {
    if (this.session !== undefined) return Promise.resolve(this.session);
    if (this.loading === undefined) {
      const { modelPath, manifest, executionProviders, intraOpThreads } = this.options;
      const opening = openOnnxSession(modelPath, manifest, {
        ...(executionProviders === undefined ? {} : { executionProviders }),
        ...(intraOpThreads === undefined ? {} : { intraOpThreads }),
      });
      this.loading = opening;
      opening.then(
        (s) => {
          if (this.loading === opening) this.session = s;
        },
        () => {
          if (this.loading === opening) this.loading = undefined;
        },
      );
    }
    return this.loading;
  }
}

/**
 * The bytes the farm should deliver for `frame`: the model run directly on
 * it, then the same PNG encoding the executor uses. For tests that compare a
 * delivered frame with the expected one.
 */
export async function gradeFrameDirect(
  executor: OnnxExecutor,
  frame: RgbFrame,
): Promise<{ rgb: RgbFrame; png: Uint8Array }> {
  const rgb = await executor.gradeFrame(frame);
  return { rgb, png: encodePng(rgb) };
}
