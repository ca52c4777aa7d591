import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { OnnxExecutor } from "../../agent/executors/onnx-executor.ts";
import { tilePlanFor, tileStarts, tileWindows } from "../../agent/executors/tile-blend.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { resolveModel, type ResolvedModel } from "../../shared/model-manifest/model-registry.ts";

let grade: ResolvedModel;
const executors: OnnxExecutor[] = [];
before(async () => {
  grade = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade");
});
after(async () => {
  for (const e of executors) await e.close();
});

test("tile starts cover the axis, step size - overlap, the last one flush with the end", () => {
  assert.deepEqual(tileStarts(100, 128, 16), [0]);
  assert.deepEqual(tileStarts(128, 128, 16), [0]);
  assert.deepEqual(tileStarts(300, 128, 16), [0, 112, 172]);
  for (const [length, size, overlap] of [[1000, 256, 16], [257, 256, 0], [999, 64, 31]] as const) {
    const starts = tileStarts(length, size, overlap);
    assert.equal(starts[0], 0);
    assert.equal(starts.at(-1)! + size, length);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! <= size - overlap, "neighbours overlap by at least `overlap`");
  }
});

test("the built-in colour-grade model (any size, no tile) runs whole: nothing changes", () => {
  assert.equal(grade.manifest.tile, undefined);
  assert.equal(tilePlanFor(grade.manifest, { width: 1920, height: 1080 }), undefined);
});

test("colour-grade forced onto 64 px tiles with 8 px overlap gives the whole-frame pixels", async () => {
  const whole = new OnnxExecutor({ manifest: grade.manifest, modelPath: grade.modelPath, intraOpThreads: 1 });
  const tiled = new OnnxExecutor({ manifest: { ...grade.manifest, tile: { size: 64, overlap: 8 } }, modelPath: grade.modelPath, intraOpThreads: 1 });
  executors.push(whole, tiled);
  const frame = generateFrame(3, 150, 100, 7);
  assert.equal(tileWindows(frame, tilePlanFor(tiled.manifest, frame)!).length, 6);
  const a = await whole.gradeFrame(frame);
  const b = await tiled.gradeFrame(frame);
  assert.equal(b.width, 150);
  assert.equal(b.height, 100);
  // The model's 3x3 sharpen sees one pixel across a tile edge; the blend gives those pixels zero weight.
  let maxDiff = 0;
  for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - b.data[i]!));
  assert.ok(maxDiff <= 1, `tiled and whole-frame runs differ by up to ${maxDiff} levels`);
});
