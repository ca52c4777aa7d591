import assert from "node:assert/strict";
import { after, test } from "node:test";
import { OnnxExecutor } from "../../agent/executors/onnx-executor.ts";
import { tilePlanFor, tileWindows } from "../../agent/executors/tile-blend.ts";
import { UPSCALE_MODEL_NAME } from "../../models/fetchable-models.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { decodePng } from "../../shared/media/png-codec.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import { upscaleModelDir, upscaleModelMissing } from "../support/fetched-model.ts";

/**
 * The real learned 2x upscaler (fixed 256x256 input) through the ONNX
 * executor: any frame size, output twice the input, tiles blended without a
 * seam. Small frames only: a 256 px tile takes 1-4 s on a shared CPU.
 */
const skip = upscaleModelMissing();
const executors: OnnxExecutor[] = [];
after(async () => {
  for (const e of executors) await e.close();
});

async function upscaler(tile?: { size: number; overlap: number }): Promise<OnnxExecutor> {
  const m = await resolveModel(upscaleModelDir, UPSCALE_MODEL_NAME);
  const e = new OnnxExecutor({ manifest: tile ? { ...m.manifest, tile } : m.manifest, modelPath: m.modelPath, intraOpThreads: 2 });
  executors.push(e);
  return e;
}

function diffStats(a: RgbFrame, b: RgbFrame, x0: number, x1: number): { mean: number; max: number } {
  let sum = 0;
  let n = 0;
  let max = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = x0; x < x1; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * a.width + x) * 3 + c;
        const d = Math.abs(a.data[i]! - b.data[i]!);
        sum += d;
        n++;
        max = Math.max(max, d);
      }
    }
  }
  return { mean: sum / n, max };
}

test("tiled (2 tiles, 32 px overlap) against one whole tile on the same frame: no seam", { skip }, async () => {
  const frame = generateFrame(4, 200, 120, 7);
  const whole = await (await upscaler()).gradeFrame(frame);
  const tiledExecutor = await upscaler({ size: 128, overlap: 32 });
  const plan = tilePlanFor(tiledExecutor.manifest, frame)!;
  assert.deepEqual(tileWindows(frame, plan).map((w) => w.x), [0, 72]);
  const tiled = await tiledExecutor.gradeFrame(frame);
  assert.equal(tiled.width, 400);
  assert.equal(tiled.height, 240);
  // The blend zone (input x 72..128 -> output 144..256) against the same columns of the whole run.
  const seam = diffStats(tiled, whole, 144, 256);
  const all = diffStats(tiled, whole, 0, 400);
  assert.ok(seam.mean < 3, `blend zone differs from the whole-frame run by ${seam.mean.toFixed(2)} levels on average`);
  assert.ok(all.mean < 2, `tiled run differs from the whole-frame run by ${all.mean.toFixed(2)} levels on average`);
  // Left of the blend zone only the first tile counts; it differs from the whole run only through the
  // model's wide receptive field seeing padding instead of pixels beyond x=128.
  const left = diffStats(tiled, whole, 0, 100);
  assert.ok(left.mean < 2.5, `left of the blend zone differs by ${left.mean.toFixed(2)}`);
});

test("a frame smaller than the model's fixed input: padded, scaled 2x, cropped, streamed as PNG", { skip }, async () => {
  const e = await upscaler();
  const frames: Uint8Array[] = [];
  for await (const f of e.run({
    jobId: "j", chunkId: "c", attemptId: "a", frames: [0], seed: 0,
    readFrame: (i) => Promise.resolve(generateFrame(i, 90, 60, 7)),
    signal: new AbortController().signal,
  })) frames.push(f.data);
  const out = decodePng(frames[0]!);
  assert.equal(out.width, 180);
  assert.equal(out.height, 120);
  // A real model, not a resize: the output is not the input's nearest-neighbour copy.
  const frame = generateFrame(0, 90, 60, 7);
  let differs = 0;
  for (let y = 0; y < 120; y++) for (let x = 0; x < 180; x++) if (out.data[(y * 180 + x) * 3] !== frame.data[((y >> 1) * 90 + (x >> 1)) * 3]) differs++;
  assert.ok(differs > 180 * 120 * 0.1, `only ${differs} pixels differ from a nearest-neighbour 2x copy`);
});
