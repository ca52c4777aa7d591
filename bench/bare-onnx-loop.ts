import { createHash } from "node:crypto";
import { join } from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { generateFrame } from "../shared/media/generated-frames.ts";
import { encodePng } from "../shared/media/png-codec.ts";
import { frameToTensor, tensorToFrame } from "../shared/model-manifest/frame-tensor.ts";
import { loadManifest } from "../shared/model-manifest/manifest-load.ts";
import { nowSeconds } from "./bench-cli.ts";

export interface BareLoopOptions {
  modelsDir: string;
  frames: number;
  width: number;
  height: number;
  seed: number;
}

export interface BareLoopResult {
  /** InferenceSession.create, not counted in framesPerSecond. */
  sessionOpenSeconds: number;
  /** The frame loop alone: generate, tensor, run, back to RGB8, PNG. */
  loopSeconds: number;
  framesPerSecond: number;
  /** This process's CPU (all threads, user + system) per frame over the frame loop, hashing included (it is small). */
  cpuMsPerFrame: number;
  pngBytes: number;
  /** sha256 of each frame's PNG (hashing time is not counted in loopSeconds). */
  sha256: string[];
}

/**
 * The baseline: onnxruntime-node used directly, with the session options the
 * agent uses (cpu, graph optimisation "basic", sequential, 1 inter-op and 1
 * intra-op thread) and the per-frame work the agent does for a generated
 * input: generateFrame, frameToTensor, run, tensorToFrame, encodePng. No
 * coordinator, NATS, gRPC, disk or SQLite.
 */
export async function runBareOnnxLoop(o: BareLoopOptions): Promise<BareLoopResult> {
  const manifest = await loadManifest(join(o.modelsDir, "colour-grade.manifest.json"));
  const inputName = manifest.inputs[0]!.name;
  const outputName = manifest.outputs[0]!.name;
  const opened = nowSeconds();
  const session = await InferenceSession.create(join(o.modelsDir, manifest.file), {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "basic",
    executionMode: "sequential",
    interOpNumThreads: 1,
    intraOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  const sessionOpenSeconds = nowSeconds() - opened;
  const sha256: string[] = [];
  let pngBytes = 0;
  let hashSeconds = 0;
  try {
    const started = nowSeconds();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < o.frames; i++) {
      const input = frameToTensor(generateFrame(i, o.width, o.height, o.seed), manifest);
      const results = await session.run({ [inputName]: new Tensor(input.dtype, input.data, input.dims) }, [outputName]);
      const out = results[outputName];
      if (out === undefined) throw new Error(`colour-grade: no output "${outputName}"`);
      const rgb = tensorToFrame({ dtype: out.type as "float32", data: out.data as Float32Array, dims: [...out.dims] }, manifest);
      out.dispose();
      const png = encodePng(rgb);
      const hashing = nowSeconds();
      sha256.push(createHash("sha256").update(png).digest("hex"));
      pngBytes += png.length;
      hashSeconds += nowSeconds() - hashing;
    }
    const cpu = process.cpuUsage(cpu0);
    const loopSeconds = nowSeconds() - started - hashSeconds;
    const cpuMsPerFrame = (cpu.user + cpu.system) / 1000 / o.frames;
    return { sessionOpenSeconds, loopSeconds, framesPerSecond: o.frames / loopSeconds, cpuMsPerFrame, pngBytes, sha256 };
  } finally {
    await session.release();
  }
}
