import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { BadInputError } from "../../shared/errors.ts";
import { loadManifest, parseManifest } from "../../shared/model-manifest/manifest-load.ts";
import { listModels, resolveModel } from "../../shared/model-manifest/model-registry.ts";

const modelsDir = fileURLToPath(new URL("../../models", import.meta.url));
let dir: string;
let good: Record<string, unknown>;

const expectBadInput = (fn: () => unknown, field: string, file = "m.json"): void => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadInputError, String(err));
    assert.equal(err.field, field);
    assert.ok(err.message.includes(file), err.message);
    assert.ok(err.message.includes(field), err.message);
    return true;
  });
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nightshift-models-"));
  good = JSON.parse(await readFile(join(modelsDir, "colour-grade.manifest.json"), "utf8")) as Record<string, unknown>;
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the demo manifest parses", () => {
  const m = parseManifest(good, "m.json");
  assert.equal(m.name, "colour-grade");
  assert.equal(m.executor, "onnx");
});

test("validation errors name the field and the manifest file", () => {
  const without = { ...good };
  delete without.sha256;
  expectBadInput(() => parseManifest(without, "m.json"), "sha256");
  expectBadInput(() => parseManifest({ ...good, sha256: "abc" }, "m.json"), "sha256");
  expectBadInput(() => parseManifest({ ...good, executor: "python" }, "m.json"), "executor");
  expectBadInput(() => parseManifest({ ...good, layout: "planar" }, "m.json"), "layout");
  expectBadInput(() => parseManifest({ ...good, file: "../elsewhere.onnx" }, "m.json"), "file");
  expectBadInput(() => parseManifest({ ...good, memoryBytes: -5 }, "m.json"), "memoryBytes");
  expectBadInput(() => parseManifest({ ...good, name: "Has Spaces" }, "m.json"), "name");
  expectBadInput(() => parseManifest({ ...good, surprise: 1 }, "m.json"), "surprise");
  expectBadInput(() => parseManifest([], "m.json"), "(manifest)");
});

test("the image tensor must agree with the layout", () => {
  const spec = (dtype: string, shape: unknown[]) => [{ name: "image", dtype, shape }];
  expectBadInput(() => parseManifest({ ...good, layout: "nhwc-uint8" }, "m.json"), "inputs.0.dtype");
  expectBadInput(
    () => parseManifest({ ...good, layout: "nhwc-uint8", inputs: spec("uint8", [1, 3, "h", "w"]) }, "m.json"),
    "inputs.0.shape.3",
  );
  expectBadInput(() => parseManifest({ ...good, inputs: spec("float32", [2, 3, "h", "w"]) }, "m.json"), "inputs.0.shape.0");
  expectBadInput(() => parseManifest({ ...good, outputs: spec("float32", [1, 4, "h", "w"]) }, "m.json"), "outputs.0.shape.1");
  const nhwc = parseManifest(
    { ...good, layout: "nhwc-uint8", inputs: spec("uint8", [1, 720, 1280, 3]), outputs: spec("uint8", [1, "h", "w", 3]) },
    "m.json",
  );
  assert.deepEqual(nhwc.inputs[0]!.shape, [1, 720, 1280, 3]);
});

test("a manifest that is not JSON names the file", async () => {
  const path = join(dir, "broken.manifest.json");
  await writeFile(path, "{ nope");
  await assert.rejects(loadManifest(path), (err: unknown) => err instanceof BadInputError && err.message.includes(path));
  await rm(path);
});

test("models resolve by file name or by the manifest's name, and are verified", async () => {
  await copyFile(join(modelsDir, "colour-grade.onnx"), join(dir, "colour-grade.onnx"));
  await writeFile(join(dir, "grading.manifest.json"), JSON.stringify(good));
  const found = await resolveModel(dir, "colour-grade");
  assert.equal(found.modelPath, join(dir, "colour-grade.onnx"));
  await assert.rejects(resolveModel(dir, "upscale"), (err: unknown) =>
    err instanceof BadInputError && err.field === "model" && err.message.includes("colour-grade"));
});

test("a model whose bytes do not match the manifest's sha256 is refused, naming the file", async () => {
  const sub = await mkdtemp(join(dir, "tampered-"));
  const bytes = await readFile(join(modelsDir, "colour-grade.onnx"));
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
  await writeFile(join(sub, "colour-grade.onnx"), bytes);
  await writeFile(join(sub, "colour-grade.manifest.json"), JSON.stringify(good));
  await assert.rejects(resolveModel(sub, "colour-grade"), (err: unknown) =>
    err instanceof BadInputError && err.message.includes(join(sub, "colour-grade.onnx")) && /sha256/.test(err.message));
  // Without verification it resolves (for listing).
  assert.equal((await resolveModel(sub, "colour-grade", { verify: false })).manifest.name, "colour-grade");
});

test("listing shows good and broken manifests", async () => {
  const sub = await mkdtemp(join(dir, "list-"));
  await writeFile(join(sub, "a.manifest.json"), JSON.stringify(good));
  await writeFile(join(sub, "b.manifest.json"), JSON.stringify({ ...good, name: "other", executor: "python" }));
  const listed = await listModels(sub);
  assert.deepEqual(listed.map((l) => l.ok), [true, false]);
  assert.ok(!listed[1]!.ok && listed[1]!.error.message.includes("executor"));
  // A broken manifest does not hide a good one.
  assert.equal((await resolveModel(sub, "colour-grade", { verify: false })).manifest.name, "colour-grade");
  await assert.rejects(listModels(join(sub, "missing")), BadInputError);
});
