import { encodePng } from "../../shared/media/png-codec.ts";
import { modelWindow } from "../../shared/model-manifest/frame-tensor.ts";
import type { ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";
import type { EncodedFrame, Executor, ExecutorTask, RgbFrame } from "./executor.ts";
import { FrameEncoder } from "./frame-encoder.ts";
import { pipelineFrames } from "./frame-pipeline.ts";
import { OnnxWorker } from "./onnx-worker.ts";

export interface OnnxExecutorOptions {
  manifest: ModelManifest;
  /** The model file; verify its sha256 (shared/model-manifest) before handing it here. */
  modelPath: string;
  /** Default ["cpu"]; ["cuda", "cpu"] opts into the GPU where onnxruntime has CUDA. */
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Default true: each frame carries the sha256 of its RGB8 samples (EncodedFrame.pixelsSha256); false only to measure without it. */
  pixelHashes?: boolean;
}

/**
 * Runs an ONNX model on each frame of a chunk: each frame (or, for a
 * temporal model, its window of neighbours) is read, run through the model
 * in the model's own worker thread (onnx-worker.ts: the agent's event loop
 * never waits on onnxruntime), rounded back to RGB8
 * (Math.round(clamp01(v) * 255)) and encoded as PNG, with the sha256 of
 * those RGB8 samples for the frame's provenance (about 0.1 ms a 320x180
 * frame; the coordinator would otherwise decode the PNG for it), both in
 * the frame encoder's thread (frame-encoder.ts). Frames are pipelined
 * (frame-pipeline.ts): while frame N is in the worker, frame N-1 is encoded
 * and the main thread reads frame N+1, so at most three frames (plus a
 * temporal model's window) are in flight. The worker, its session and the
 * encoder are made once and kept until close().
 */
export class OnnxExecutor implements Executor {
  readonly kind = "onnx";
  private worker: OnnxWorker | undefined;
  private loading: Promise<OnnxWorker> | undefined;
  private encoder = new FrameEncoder();

  constructor(private readonly options: OnnxExecutorOptions) {}

  get manifest(): ModelManifest {
    return this.options.manifest;
  }

  async load(): Promise<void> {
    this.encoder.prepare();
    await this.ensureWorker();
  }

  async *run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    const worker = await this.ensureWorker();
    const hashes = this.options.pixelHashes ?? true;
    yield* pipelineFrames({
      frames: task.frames,
      half: Math.floor(modelWindow(this.options.manifest) / 2),
      first: task.readable?.first ?? task.frames[0] ?? 0,
      last: task.readable?.last ?? task.frames[task.frames.length - 1] ?? 0,
      read: (i) => task.readFrame(i),
      compute: (window, signal) => worker.run(window, signal),
      // The output frame came from the worker transferred, so it is ours to hand to the encoder's thread.
      encode: async (frame, index) => {
        const { data, pixelsSha256, seconds } = await this.encoder.encode(frame, { hash: hashes, transfer: true });
        return { frame: { index, data, format: "png", ...(pixelsSha256 === undefined ? {} : { pixelsSha256 }) }, seconds };
      },
      ...(task.onBusy === undefined ? {} : { onBusy: task.onBusy }),
      ...(task.onDeviceDone === undefined ? {} : { onDeviceDone: task.onDeviceDone }),
      signal: task.signal,
    });
  }

  /** One frame through the model, RGB8 in and out, outside any task. */
  async gradeFrame(frame: RgbFrame): Promise<RgbFrame> {
    return (await (await this.ensureWorker()).run([frame])).frame;
  }

  async close(): Promise<void> {
    const encoder = this.encoder;
    this.encoder = new FrameEncoder(); // a closed executor may be run again, as its worker is reopened
    await encoder.close();
    const pending = this.loading;
    this.loading = undefined;
    this.worker = undefined;
    if (pending === undefined) return;
    const worker = await pending.catch(() => undefined);
    await worker?.close();
  }

  /** The worker, opened once; a worker whose thread died is replaced by a new one on the next use. */
  private ensureWorker(): Promise<OnnxWorker> {
    if (this.worker?.usable) return Promise.resolve(this.worker);
    if (this.worker !== undefined) {
      void this.worker.close();
      this.worker = undefined;
      this.loading = undefined;
    }
    if (this.loading === undefined) {
      const { modelPath, manifest, executionProviders, intraOpThreads } = this.options;
      const opening = OnnxWorker.open(modelPath, manifest, {
        ...(executionProviders === undefined ? {} : { executionProviders }),
        ...(intraOpThreads === undefined ? {} : { intraOpThreads }),
      });
      this.loading = opening;
      opening.then(
        (w) => {
          if (this.loading === opening) this.worker = w;
          else void w.close();
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
