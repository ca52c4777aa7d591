import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import { OnnxExecutor, gradeFrameDirect } from "../../agent/executors/onnx-executor.ts";
import type { EncodedFrame, ExecutorTask, RgbFrame } from "../../agent/executors/executor.ts";
import { colourMatrix, GRADE } from "../../models/colour-grade-model.ts";
import { BadInputError } from "../../shared/errors.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { decodePng } from "../../shared/media/png-codec.ts";
import { pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import { parseManifest } from "../../shared/model-manifest/manifest-load.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { resolveModel, type ResolvedModel } from "../../shared/model-manifest/model-registry.ts";

const W = 64;
const H = 36;
let demo: ResolvedModel;
let tmp: string;
const executors: OnnxExecutor[] = [];

const executor = (options: Partial<ConstructorParameters<typeof OnnxExecutor>[0]> = {}): OnnxExecutor => {
  const e = new OnnxExecutor({ manifest: demo.manifest, modelPath: demo.modelPath, ...options });
  executors.push(e);
  return e;
};

const task = (frames: number[], over: Partial<ExecutorTask> = {}): ExecutorTask => ({
  jobId: "job", chunkId: "chunk", attemptId: "attempt", frames, seed: 0,
  readFrame: (i) => Promise.resolve(generateFrame(i, W, H, 0)),
  signal: new AbortController().signal,
  ...over,
});

const collect = async (it: AsyncIterable<EncodedFrame>): Promise<EncodedFrame[]> => {
  const out: EncodedFrame[] = [];
  for await (const f of it) out.push(f);
  return out;
};

const channelMeans = (f: RgbFrame): [number, number, number] => {
  const s = [0, 0, 0];
  for (let i = 0; i < f.data.length; i++) s[i % 3]! += f.data[i]!;
  const n = f.width * f.height;
  return [s[0]! / n, s[1]! / n, s[2]! / n];
};

before(async () => {
  demo = await resolveModel(fileURLToPath(new URL("../../models", import.meta.url)), "colour-grade");
  tmp = await mkdtemp(join(tmpdir(), "nightshift-onnx-"));
});

after(async () => {
  for (const e of executors) await e.close();
  await rm(tmp, { recursive: true, force: true });
});

test("frames come out in order as PNGs of the input size, identical across runs and sessions", async () => {
  const busy: number[] = [];
  const a = executor();
  await a.load();
  await a.load();
  const first = await collect(a.run(task([4, 5, 6], { onBusy: (s) => busy.push(s) })));
  assert.deepEqual(first.map((f) => [f.index, f.format]), [[4, "png"], [5, "png"], [6, "png"]]);
  assert.equal(busy.length, 3);
  assert.ok(busy.every((s) => s >= 0 && s < 10));
  const png = decodePng(first[0]!.data);
  assert.deepEqual([png.width, png.height], [W, H]);
  for (const f of first) assert.equal(f.pixelsSha256, pixelsOf(f.data).sha256, "the pixel hash sent with a frame is the one its PNG decodes to");

  const again = await collect(a.run(task([4, 5, 6])));
  const other = await collect(executor({ intraOpThreads: 1 }).run(task([4, 5, 6])));
  for (let i = 0; i < 3; i++) {
    assert.equal(sha256Bytes(again[i]!.data), sha256Bytes(first[i]!.data));
    assert.equal(sha256Bytes(other[i]!.data), sha256Bytes(first[i]!.data));
  }
  const direct = await gradeFrameDirect(a, generateFrame(5, W, H, 0));
  assert.equal(sha256Bytes(direct.png), sha256Bytes(first[1]!.data));
});

test("busy time per frame is the worker's compute plus the encoder thread's encoding; the device is reported free once", async () => {
  const busy: number[] = [];
  let deviceDone = 0;
  const e = executor();
  await collect(e.run(task([0, 1], { onBusy: (s) => busy.push(s), onDeviceDone: () => deviceDone++ })));
  assert.equal(busy.length, 2);
  for (const s of busy) assert.ok(s > 0 && s < 60, `busy ${s}`);
  assert.equal(deviceDone, 1);
});

test("each frame carries the sha256 of its RGB8 samples, the same as the sink computes from the PNG; none when asked not to", async () => {
  const frames = await collect(executor().run(task([3, 4, 5])));
  for (const f of frames) assert.equal(f.pixelsSha256, pixelsOf(f.data).sha256);
  const bare = await collect(executor({ pixelHashes: false }).run(task([3])));
  assert.equal(bare[0]!.pixelsSha256, undefined);
  assert.deepEqual(bare[0]!.data, frames[0]!.data);
});

test("the grade is warmer and matches the documented maths", async () => {
  const input = generateFrame(7, W, H, 2);
  const { rgb } = await gradeFrameDirect(executor(), input);
  const [ri, , bi] = channelMeans(input);
  const [ro, , bo] = channelMeans(rgb);
  assert.ok(ro / bo > (ri / bi) * 1.1, `R/B ${ri / bi} -> ${ro / bo}`);
  assert.notDeepEqual(Buffer.from(rgb.data), Buffer.from(input.data));

  // Reference in float64: the model runs float32, so allow one level of rounding.
  const expected = referenceGrade(input);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i]! - rgb.data[i]!));
  assert.ok(worst <= 1, `largest difference from the reference: ${worst}`);
});

test("abort stops the run between frames", async () => {
  const controller = new AbortController();
  const reads: number[] = [];
  const got: number[] = [];
  const run = collectInto(executor().run(task([0, 1, 2, 3, 4, 5], {
    signal: controller.signal,
    readFrame: (i) => {
      reads.push(i);
      return Promise.resolve(generateFrame(i, W, H, 0));
    },
  })), got, () => controller.abort());
  await assert.rejects(run, { name: "AbortError" });
  assert.deepEqual(got, [0]);
  // The pipeline's bound: frame 0 handed over, frame 1 in the worker, frame 2 read ahead; nothing beyond.
  assert.ok(reads.length <= 3, `read ${reads.length} frames`);

  const already = AbortSignal.abort();
  await assert.rejects(collect(executor().run(task([0], { signal: already }))), { name: "AbortError" });
});

test("a model whose names differ from its manifest is refused at load", async () => {
  const manifest = { ...demo.manifest, inputs: [{ ...demo.manifest.inputs[0]!, name: "img" }] };
  const e = new OnnxExecutor({ manifest, modelPath: demo.modelPath });
  await assert.rejects(e.load(), (err: unknown) => err instanceof BadInputError && /"img"/.test(err.message));
  await e.close();
});

test("unknown execution providers and broken model files are named in the error", async () => {
  const bad = new OnnxExecutor({ manifest: demo.manifest, modelPath: demo.modelPath, executionProviders: ["nonsense"] });
  await assert.rejects(bad.load(), (err: unknown) => err instanceof BadInputError && err.field === "executionProviders");
  await bad.close();
  const junk = join(tmp, "junk.onnx");
  await writeFile(junk, "not a model");
  const broken = new OnnxExecutor({ manifest: demo.manifest, modelPath: junk });
  await assert.rejects(broken.load(), (err: unknown) => err instanceof BadInputError && err.message.includes(junk));
  await broken.close();
});

test("CUDA is opt-in: it runs where onnxruntime has CUDA, and says why where it has not", async () => {
  const gpu = executor({ executionProviders: ["cuda", "cpu"] });
  try {
    await gpu.load();
  } catch (err) {
    assert.ok(err instanceof BadInputError && err.field === "executionProviders", String(err));
    return;
  }
  const out = await gpu.gradeFrame(generateFrame(0, W, H, 0));
  assert.deepEqual([out.width, out.height], [W, H]);
});

test("other models work: an nhwc-uint8 invert model, with a fixed size", async () => {
  const path = join(tmp, "invert.onnx");
  await writeFile(path, invertModel([1, H, W, 3]));
  const manifest = parseManifest({
    name: "invert", version: "1", file: "invert.onnx", sha256: "0".repeat(64), executor: "onnx",
    layout: "nhwc-uint8", memoryBytes: 1,
    inputs: [{ name: "pixels", dtype: "uint8", shape: [1, H, W, 3] }],
    outputs: [{ name: "inverted", dtype: "uint8", shape: [1, H, W, 3] }],
  }, "invert.manifest.json");
  const e = new OnnxExecutor({ manifest, modelPath: path });
  executors.push(e);
  const input = generateFrame(1, W, H, 0);
  const out = await e.gradeFrame(input);
  assert.deepEqual([...out.data.subarray(0, 9)], [...input.data.subarray(0, 9)].map((v) => 255 - v));
  assert.deepEqual(Buffer.from(out.data), Buffer.from(input.data.map((v) => 255 - v)));
  // Another frame size is no longer refused: the fixed-size model runs on a padded tile (tile-blend.ts), cropped back.
  const small = generateFrame(0, 32, 18, 0);
  const tiled = await e.gradeFrame(small);
  assert.equal(tiled.width, 32);
  assert.equal(tiled.height, 18);
  assert.deepEqual(Buffer.from(tiled.data), Buffer.from(small.data.map((v) => 255 - v)));
});

async function collectInto(it: AsyncIterable<EncodedFrame>, got: number[], afterFirst: () => void): Promise<void> {
  for await (const f of it) {
    got.push(f.index);
    if (got.length === 1) afterFirst();
  }
}

/** The colour-grade model's maths in float64, RGB8 out. */
function referenceGrade(frame: RgbFrame): number[] {
  const { width: w, height: h, data } = frame;
  const m = colourMatrix();
  const { a, b, c, d, e } = GRADE.curve;
  const k = GRADE.sharpen;
  const clip = (v: number): number => Math.min(1, Math.max(0, v));
  const toned = new Float64Array(w * h * 3);
  for (let p = 0; p < w * h; p++) {
    for (let ch = 0; ch < 3; ch++) {
      let v = GRADE.lift[ch]!;
      for (let j = 0; j < 3; j++) v += m[ch]![j]! * (data[p * 3 + j]! / 255);
      const x = clip(v);
      toned[p * 3 + ch] = (x * (a * x + b)) / (x * (c * x + d) + e);
    }
  }
  const at = (x: number, y: number, ch: number): number =>
    toned[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * 3 + ch]!;
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < 3; ch++) {
        const s = (1 + 4 * k) * at(x, y, ch) - k * (at(x - 1, y, ch) + at(x + 1, y, ch) + at(x, y - 1, ch) + at(x, y + 1, ch));
        out.push(Math.round(clip(s) * 255));
      }
    }
  }
  return out;
}

/** A small uint8 NHWC model: out = 255 - in (Cast, Sub, Cast). */
function invertModel(shape: number[]): Uint8Array {
  const { onnx } = onnxProto;
  const u8 = onnx.TensorProto.DataType.UINT8;
  const f32 = onnx.TensorProto.DataType.FLOAT;
  const value = (name: string) => ({
    name, type: { tensorType: { elemType: u8, shape: { dim: shape.map((dimValue) => ({ dimValue })) } } },
  });
  const cast = (to: number) => [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: to }];
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 13 }],
    graph: {
      name: "invert",
      node: [
        { opType: "Cast", input: ["pixels"], output: ["f"], attribute: cast(f32) },
        { opType: "Sub", input: ["white", "f"], output: ["g"] },
        { opType: "Cast", input: ["g"], output: ["inverted"], attribute: cast(u8) },
      ],
      initializer: [{ name: "white", dims: [], dataType: f32, floatData: [255] }],
      input: [value("pixels")],
      output: [value("inverted")],
    },
  }).finish();
}
