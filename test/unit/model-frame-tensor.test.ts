import assert from "node:assert/strict";
import { test } from "node:test";
import { BadInputError } from "../../shared/errors.ts";
import { frameToTensor, tensorToFrame, toByte } from "../../shared/model-manifest/frame-tensor.ts";
import { parseManifest } from "../../shared/model-manifest/manifest-load.ts";
import type { ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";

const manifest = (layout: ModelManifest["layout"], shape: (number | string)[]): ModelManifest => {
  const dtype = layout === "nchw-float01" ? "float32" : "uint8";
  return parseManifest(
    {
      name: "t", version: "1", file: "t.onnx", sha256: "0".repeat(64), executor: "onnx", layout, memoryBytes: 1,
      inputs: [{ name: "in", dtype, shape }], outputs: [{ name: "out", dtype, shape }],
    },
    "t.manifest.json",
  );
};

// 2x1 frame: pixel 0 = (255, 0, 51), pixel 1 = (1, 128, 254)
const frame = { width: 2, height: 1, data: new Uint8Array([255, 0, 51, 1, 128, 254]) };

test("nchw-float01: planar channels, 0..1, and back exactly", () => {
  const m = manifest("nchw-float01", [1, 3, "h", "w"]);
  const t = frameToTensor(frame, m);
  assert.deepEqual(t.dims, [1, 3, 1, 2]);
  assert.equal(t.dtype, "float32");
  assert.deepEqual([...t.data].map((v) => Math.round(v * 255)), [255, 1, 0, 128, 51, 254]);
  assert.deepEqual([...tensorToFrame(t, m).data], [...frame.data]);
});

test("nhwc-uint8: interleaved bytes, unchanged", () => {
  const m = manifest("nhwc-uint8", [1, "h", "w", 3]);
  const t = frameToTensor(frame, m);
  assert.deepEqual(t.dims, [1, 1, 2, 3]);
  assert.deepEqual([...t.data], [...frame.data]);
  assert.deepEqual([...tensorToFrame(t, m).data], [...frame.data]);
});

test("rounding back to bytes clamps and rounds half up", () => {
  assert.deepEqual([-1, 0, NaN, 2, 1, 127.5 / 255, 0.2].map(toByte), [0, 0, 0, 255, 255, 128, 51]);
});

test("fixed model sizes must match the frame", () => {
  const m = manifest("nchw-float01", [1, 3, 36, 64]);
  assert.throws(() => frameToTensor(frame, m), (err: unknown) =>
    err instanceof BadInputError && err.field === "input" && /64x36/.test(err.message) && /2x1/.test(err.message));
  assert.deepEqual(frameToTensor({ width: 64, height: 36, data: new Uint8Array(64 * 36 * 3) }, m).dims, [1, 3, 36, 64]);
});

test("an output that does not fit the layout is refused", () => {
  const m = manifest("nchw-float01", [1, 3, "h", "w"]);
  assert.throws(() => tensorToFrame({ dtype: "float32", data: new Float32Array(8), dims: [1, 4, 1, 2] }, m), /layout/);
  assert.throws(() => tensorToFrame({ dtype: "uint8", data: new Uint8Array(6), dims: [1, 3, 1, 2] }, m), /dtype/);
});
