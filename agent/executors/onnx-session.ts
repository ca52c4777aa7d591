import { InferenceSession, Tensor } from "onnxruntime-node";
import { BadInputError } from "../../shared/errors.ts";
import { frameToTensor, framesToTensor, tensorToFrame } from "../../shared/model-manifest/frame-tensor.ts";
import type { ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";

export interface OnnxSessionOptions {
  /** onnxruntime execution providers in order of preference, e.g. ["cuda", "cpu"]. Default ["cpu"]. */
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
            `the model loads on ["cpu"]. onnxruntime-node needs its CUDA build and CUDA/cuDNN libraries for "cuda".`,
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

/** Runs the model on one frame: RGB8 in, RGB8 out (layout from the manifest). */
export async function runModelOnFrame(
  session: InferenceSession,
  manifest: ModelManifest,
  frame: RgbFrame,
): Promise<RgbFrame> {
  return runModelOnWindow(session, manifest, [frame]);
}

/** Runs a model on a window of frames stacked on the first axis (one frame for a per-frame model); one RGB8 frame out. */
export async function runModelOnWindow(
  session: InferenceSession,
  manifest: ModelManifest,
  frames: readonly RgbFrame[],
): Promise<RgbFrame> {
  const input = frames.length === 1 ? frameToTensor(frames[0] as RgbFrame, manifest) : framesToTensor(frames, manifest);
  const feeds = { [manifest.inputs[0]!.name]: new Tensor(input.dtype, input.data, input.dims) };
  const outputName = manifest.outputs[0]!.name;
  const results = await session.run(feeds, [outputName]);
  const out = results[outputName];
  if (out === undefined) throw new Error(`model ${manifest.name}: no output "${outputName}"`);
  try {
    if (out.type !== "float32" && out.type !== "uint8") {
      throw new Error(`model ${manifest.name}: output "${outputName}" is ${out.type}, expected float32 or uint8`);
    }
    return tensorToFrame({ dtype: out.type, data: out.data as Float32Array | Uint8Array, dims: [...out.dims] }, manifest);
  } finally {
    out.dispose();
  }
}
