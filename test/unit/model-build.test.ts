import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { colourMatrix, GRADE } from "../../models/colour-grade-model.ts";
import { loadManifest } from "../../shared/model-manifest/manifest-load.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const script = join(root, "models", "build-colour-grade.ts");
let dirs: string[] = [];

const build = (outDir: string): void => {
  execFileSync(process.execPath, ["--import", "tsx", script, outDir], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
};

before(async () => {
  dirs = [await mkdtemp(join(tmpdir(), "nightshift-model-a-")), await mkdtemp(join(tmpdir(), "nightshift-model-b-"))];
  for (const d of dirs) build(d);
});

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test("building twice gives identical bytes", async () => {
  const [a, b] = await Promise.all(dirs.map((d) => readFile(join(d, "colour-grade.onnx"))));
  assert.equal(sha256Bytes(a!), sha256Bytes(b!));
  const [ma, mb] = await Promise.all(dirs.map((d) => readFile(join(d, "colour-grade.manifest.json"), "utf8")));
  assert.equal(ma, mb);
});

test("the committed model and manifest are what the script builds", async () => {
  const built = await readFile(join(dirs[0]!, "colour-grade.onnx"));
  const committed = await readFile(join(root, "models", "colour-grade.onnx"));
  assert.equal(sha256Bytes(committed), sha256Bytes(built), "run: npx tsx models/build-colour-grade.ts");
  assert.equal(
    await readFile(join(root, "models", "colour-grade.manifest.json"), "utf8"),
    await readFile(join(dirs[0]!, "colour-grade.manifest.json"), "utf8"),
  );
});

test("the manifest is valid and names the model's sha256", async () => {
  const manifest = await loadManifest(join(dirs[0]!, "colour-grade.manifest.json"));
  const bytes = await readFile(join(dirs[0]!, manifest.file));
  assert.equal(manifest.sha256, sha256Bytes(bytes));
  assert.equal(manifest.layout, "nchw-float01");
  assert.deepEqual(manifest.inputs[0]!.shape, [1, 3, "height", "width"]);
  // At least the 1080p input and output tensors, and not absurdly more.
  const frame = 1920 * 1080 * 3 * 4;
  assert.ok(manifest.memoryBytes >= 2 * frame && manifest.memoryBytes < 1024 ** 3);
});

test("the grade warms: red gain above blue, rows keep grey grey before the gains", () => {
  const m = colourMatrix();
  for (let row = 0; row < 3; row++) {
    const sum = m[row]!.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - GRADE.gains[row]!) < 1e-12, `row ${row} sums to its gain`);
  }
  assert.ok(GRADE.gains[0] > GRADE.gains[2]);
});
