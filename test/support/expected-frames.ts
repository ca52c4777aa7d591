import { createHash } from "node:crypto";
import { OnnxExecutor, gradeFrameDirect } from "../../agent/executors/onnx-executor.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";

/** sha256 of each frame the colour-grade model gives for generated input, run directly (no farm). */
export async function expectedGeneratedShas(frames: number, width: number, height: number, seed: number): Promise<string[]> {
  const model = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade");
  const exec = new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 });
  await exec.load();
  try {
    const out: string[] = [];
    for (let i = 0; i < frames; i++) {
      const { png } = await gradeFrameDirect(exec, generateFrame(i, width, height, seed));
      out.push(createHash("sha256").update(png).digest("hex"));
    }
    return out;
  } finally {
    await exec.close();
  }
}
