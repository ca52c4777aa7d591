/**
 * The learned 2x upscaler on the farm against a bare onnxruntime loop over the
 * same tiles, in one run.
 *
 *   node --import tsx bench/upscale-in-farm.bench.ts [--frames 4] [--width 320 --height 180] [--dir PARENT]
 *
 * Needs `npm run models:fetch` first; without the model it prints
 * {"skipped": reason}. Farm: the demo job with the upscaler as its frame step
 * (coordinator, nats-server, gRPC, one agent with intraOpThreads 1), frames per
 * second over the job's wall time. Bare: the same frames cut into the same
 * tiles (tile-blend.ts) and run through one onnxruntime session with the
 * agent's session options; tile crop and tensor conversion are counted, the
 * blend and PNG encoding are not (the farm does them on top). Mean of a bare
 * loop before and one after the farm run.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "onnxruntime-node";
import { openOnnxSession } from "../agent/executors/onnx-session.ts";
import { cropTile, tilePlanFor, tileWindows } from "../agent/executors/tile-blend.ts";
import { UPSCALE_MODEL_NAME } from "../models/fetchable-models.ts";
import { FETCH_COMMAND, FETCHED_MODELS_DIR } from "../models/fetched-models-dir.ts";
import { generateFrame } from "../shared/media/generated-frames.ts";
import { frameToTensor } from "../shared/model-manifest/frame-tensor.ts";
import { resolveModel, type ResolvedModel } from "../shared/model-manifest/model-registry.ts";
import { benchLogger, intFlag, nowSeconds, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { runFarmRender } from "./farm-render.ts";

async function bareTileLoop(model: ResolvedModel, frames: number, width: number, height: number): Promise<{ framesPerSecond: number; tiles: number; loopSeconds: number }> {
  const session = await openOnnxSession(model.modelPath, model.manifest, { intraOpThreads: 1 });
  try {
    const inputName = model.manifest.inputs[0]!.name;
    const outputName = model.manifest.outputs[0]!.name;
    let tiles = 0;
    const t0 = nowSeconds();
    for (let i = 0; i < frames; i++) {
      const frame = generateFrame(i, width, height, 7);
      const plan = tilePlanFor(model.manifest, frame);
      if (plan === undefined) throw new Error("the upscaler is expected to tile");
      for (const w of tileWindows(frame, plan)) {
        const input = frameToTensor(cropTile(frame, w, plan), model.manifest);
        const out = await session.run({ [inputName]: new Tensor(input.dtype, input.data, input.dims) }, [outputName]);
        out[outputName]?.dispose();
        tiles++;
      }
    }
    const loopSeconds = nowSeconds() - t0;
    return { framesPerSecond: frames / loopSeconds, tiles, loopSeconds };
  } finally {
    await session.release();
  }
}

async function upscaleBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "4" }, width: { default: "320" }, height: { default: "180" }, dir: { default: "" } });
  const frames = intFlag("frames", f.frames, 1, 1000);
  const width = intFlag("width", f.width, 16, 3840);
  const height = intFlag("height", f.height, 16, 2160);
  if (!existsSync(join(FETCHED_MODELS_DIR, `${UPSCALE_MODEL_NAME}.manifest.json`))) {
    return { benchmark: "upscale-in-farm", skipped: `the learned upscaler is not in ${FETCHED_MODELS_DIR}; run \`${FETCH_COMMAND}\`` };
  }
  const model = await resolveModel(FETCHED_MODELS_DIR, UPSCALE_MODEL_NAME);
  const log = benchLogger("bench-upscale-in-farm");
  return withTempDir("nightshift-bench-upscale-", parentDirFlag(f.dir), async (dir) => {
    const before = await bareTileLoop(model, frames, width, height);
    const run = await runFarmRender({
      dir, modelsDir: FETCHED_MODELS_DIR, frames, width, height, log,
      model: { id: "upscale", name: UPSCALE_MODEL_NAME },
    });
    const after = await bareTileLoop(model, frames, width, height);
    const bareFps = (before.framesPerSecond + after.framesPerSecond) / 2;
    const farmFps = frames / run.jobWallSeconds;
    return {
      benchmark: "upscale-in-farm",
      model: UPSCALE_MODEL_NAME,
      license: model.manifest.license,
      frames,
      width,
      height,
      outputWidth: width * model.manifest.scale,
      outputHeight: height * model.manifest.scale,
      tilesPerFrame: before.tiles / frames,
      tile: model.manifest.tile,
      intraOpThreads: 1,
      bareFramesPerSecond: round(bareFps, 4),
      farmFramesPerSecond: round(farmFps, 4),
      ratio: round(farmFps / bareFps, 3),
      bareRuns: [before, after].map((r) => ({ framesPerSecond: round(r.framesPerSecond, 4), loopSeconds: round(r.loopSeconds) })),
      farm: { chunks: run.chunks, jobWallSeconds: round(run.jobWallSeconds), agentBusySeconds: round(run.agentBusySeconds), startupSeconds: round(run.startupSeconds) },
      definitions: {
        bare: "one onnxruntime session (agent options), the same tiles: crop + tensor + run; no blend, no PNG",
        farm: "frames / job wall time (first claim to last commit): tiles, blend, PNG, upload, provenance, commit",
        agentTimeoutMs: "the coordinator's default: tiles run in the agent's ONNX worker thread, its heartbeats keep flowing",
      },
    };
  });
}

runBench(() => upscaleBench(process.argv.slice(2)));
