import { InferenceSession, Tensor } from "onnxruntime-node";
import { BadInputError } from "../../shared/errors.ts";
import { providerNeeds } from "./onnx-providers.ts";
import { frameToTensor, framesToTensor, tensorToFrame, type ImageTensor } from "../../shared/model-manifest/frame-tensor.ts";
import { layoutAxes, type ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import { cropTile, TileBlender, tilePlanFor, tileWindows, type OutputTile } from "./tile-blend.ts";

export interface OnnxSessionOptions {
  /** onnxruntime execution providers in order of preference, e.g. ["webgpu", "cpu"] (onnx-providers.ts). Default ["cpu"]. */
  executionProviders?: string[];
  /** Threads inside one op; default: onnxruntime's choice (one per core). */
  intraOpThreads?: number;
}

/**
 * Opens an onnxruntime session for a manifest's model and checks that the
 * model really has the input and output the manifest names.
 *
 * graphOptimizationLevel "basic": constant folding and redundant-node removal
 * only. These rewrites do not depend on the CPU, whereas "extended"/"all" add
 * fusions and NCHWc layout changes chosen per instruction set, which can move
 * rounding between machines. Execution is sequential, so run order is fixed.
 */
export async function openOnnxSession(
  modelPath: string,
  manifest: ModelManifest,
  options: OnnxSessionOptions = {},
): Promise<InferenceSession> {
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: options.executionProviders ?? ["cpu"],
    graphOptimizationLevel: "basic",
    executionMode: "sequential",
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  if (options.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpThreads;
  const session = await createSession(modelPath, sessionOptions);
  const input = manifest.inputs[0]!.name;
  const output = manifest.outputs[0]!.name;
  if (!session.inputNames.includes(input) || !session.outputNames.includes(output)) {
    await session.release();
    throw new BadInputError(
      `${modelPath}: model has inputs [${session.inputNames.join(", ")}] and outputs [${session.outputNames.join(", ")}], ` +
        `manifest names input "${input}" and output "${output}"`,
      { field: "inputs.0.name" },
    );
  }
  return session;
}

/**
 * When a session with GPU providers fails, tries the CPU alone to tell a
 * provider problem (e.g. CUDA libraries missing) from a broken model file.
 */
async function createSession(modelPath: string, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(modelPath, options);
  } catch (err) {
    const providers = (options.executionProviders ?? []).map((p) => (typeof p === "string" ? p : p.name));
    const cpuOnly = providers.every((p) => p === "cpu");
    if (!cpuOnly) {
      const probe = await InferenceSession.create(modelPath, { ...options, executionProviders: ["cpu"] }).catch(() => undefined);
      if (probe !== undefined) {
        await probe.release();
        throw new BadInputError(
          `execution providers [${providers.join(", ")}] could not start (${(err as Error).message}); ` +
            `the model loads on ["cpu"]. ${providerNeeds(providers.find((p) => p !== "cpu") ?? "cpu")}.`,
          { field: "executionProviders", cause: err },
        );
      }
    }
    throw new BadInputError(`${modelPath}: onnxruntime cannot load the model (${(err as Error).message})`, {
      field: modelPath,
      cause: err,
    });
  }
}

/**
 * Runs a model on a window of frames stacked on the first axis (one frame for
 * a per-frame model); one RGB8 frame out. A per-frame model with a fixed input
 * size, or whose manifest names a tile, runs on overlapping tiles that are
 * blended (tile-blend.ts), so any frame size works. Temporal windows are not tiled.
 */
export async function runModelOnWindow(
  session: InferenceSession,
  manifest: ModelManifest,
  frames: readonly RgbFrame[],
  hooks: { /** Called before each tile; throw to stop (a cancelled run). */ beforeTile?: () => void } = {},
): Promise<RgbFrame> {
  const only = frames.length === 1 ? frames[0] : undefined;
  const plan = only === undefined ? undefined : tilePlanFor(manifest, only);
  if (only !== undefined && plan !== undefined) {
    const blender = new TileBlender(only, plan);
    for (const window of tileWindows(only, plan)) {
      hooks.beforeTile?.();
      blender.add(window, await runTile(session, manifest, cropTile(only, window, plan)));
    }
    return blender.finish();
  }
  const input = only !== undefined ? frameToTensor(only, manifest) : framesToTensor(frames, manifest);
  return withOutput(session, manifest, input, (out) =>
    tensorToFrame({ dtype: out.type as "float32" | "uint8", data: out.data as Float32Array | Uint8Array, dims: [...out.dims] }, manifest),
  );
}

/** One tile through the model; its output as planar floats in 0..1. */
export async function runTile(session: InferenceSession, manifest: ModelManifest, tile: RgbFrame): Promise<OutputTile> {
  return withOutput(session, manifest, frameToTensor(tile, manifest), (out) => {
    const axes = layoutAxes(manifest.layout);
    const height = out.dims[axes.height] ?? 0;
    const width = out.dims[axes.width] ?? 0;
    if (out.dims.length !== 4 || out.dims[axes.channels] !== 3) {
      throw new Error(`model ${manifest.name}: output dims [${out.dims.join(",")}] do not fit layout ${manifest.layout}`);
    }
    if (manifest.layout === "nchw-float01") return { width, height, planes: Float32Array.from(out.data as Float32Array) };
    const src = out.data as Uint8Array;
    const plane = width * height;
    const planes = new Float32Array(plane * 3);
    for (let p = 0; p < plane; p++) {
      planes[p] = src[p * 3]! / 255;
      planes[plane + p] = src[p * 3 + 1]! / 255;
      planes[2 * plane + p] = src[p * 3 + 2]! / 255;
    }
    return { width, height, planes };
  });
}

async function withOutput<T>(session: InferenceSession, manifest: ModelManifest, input: ImageTensor, use: (out: Tensor) => T): Promise<T> {
  const feeds = { [manifest.inputs[0]!.name]: new Tensor(input.dtype, input.data, input.dims) };
  const outputName = manifest.outputs[0]!.name;
  const results = await session.run(feeds, [outputName]);
  const out = results[outputName];
  if (out === undefined) throw new Error(`model ${manifest.name}: no output "${outputName}"`);
  try {
    if (out.type !== "float32" && out.type !== "uint8") {
      throw new Error(`model ${manifest.name}: output "${outputName}" is ${out.type}, expected float32 or uint8`);
    }
    return use(out);
  } finally {
    out.dispose();
  }
}
