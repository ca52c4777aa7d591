import { BlenderExecutorFactory } from "../agent/executors/blender/blender-factory.ts";
import type { Logger } from "../shared/log.ts";
import type { BlenderWorkStep } from "../shared/steps/work-step.ts";
import { pixelDigest, renderReference, type BuiltScene } from "../test/support/blender-scene.ts";
import { nowSeconds } from "./bench-cli.ts";

/**
 * The two halves of the Blender bench that need no farm: a bare `blender -b
 * -a` of the frames (the baseline), and the same frames through the Blender
 * executor in this process, one chunk after another, as an agent runs them.
 */

export interface ExecutorRender {
  seconds: number;
  chunks: number;
  /** Seconds from the chunk's start to its first frame (Blender start and scene load included), per chunk. */
  firstFrameSeconds: number[];
  /** Pixel digest by frame. */
  digests: Map<number, string>;
}

/** The frames 1..N through BlenderExecutor in chunks of `chunk`, one after another. */
export async function executorRender(scene: BuiltScene, sharedRoot: string, sceneRelative: string, chunk: number, log: Logger): Promise<ExecutorRender> {
  const factory = new BlenderExecutorFactory({ sharedRoot });
  if ((await factory.probe()) === null) throw new Error("blender not found");
  const step: BlenderWorkStep = { id: "render", kind: "blender", scene: sceneRelative, sceneSha256: scene.sha256, engine: null, samples: null, resolution: null, percentage: null, version: null };
  const digests = new Map<number, string>();
  const firstFrameSeconds: number[] = [];
  const started = nowSeconds();
  let chunks = 0;
  for (let first = 1; first <= scene.frames; first += chunk) {
    const frames: number[] = [];
    for (let f = first; f <= Math.min(scene.frames, first + chunk - 1); f++) frames.push(f);
    const executor = await factory.create(step, { log });
    const chunkStarted = nowSeconds();
    const task = { jobId: "bench", chunkId: `chunk-${chunks}`, attemptId: "a", frames, seed: 0, readFrame: () => Promise.reject(new Error("no input")), signal: new AbortController().signal };
    for await (const frame of executor.run(task)) {
      if (frame.index === first) firstFrameSeconds.push(nowSeconds() - chunkStarted);
      digests.set(frame.index, pixelDigest(frame.data));
    }
    await executor.close();
    chunks += 1;
  }
  return { seconds: nowSeconds() - started, chunks, firstFrameSeconds, digests };
}

/** One plain `blender -b --factory-startup scene.blend -s 1 -e N -a` (the reference render), timed. */
export async function bareBlenderRender(scene: BuiltScene): Promise<{ seconds: number; digests: Map<number, string> }> {
  const started = nowSeconds();
  const digests = await renderReference(scene);
  return { seconds: nowSeconds() - started, digests };
}
