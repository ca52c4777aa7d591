import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { submitJob, type SubmitDeps } from "../../coordinator/jobs/submit-job.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { BadInputError } from "../../shared/errors.ts";
import { sceneTreeProblems, type SceneFile } from "../../shared/assets/scene-tree.ts";
import { openTempStore } from "../helpers/store-fixture.ts";

// A submit that sends a Blender scene by content: the coordinator checks the tree's names and that every file
// was uploaded, and reads none of the submitter's files. Every hostile name is refused naming its field and file.

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);
const uploaded = new Set([A, B, C]);
const assets = { claim: (ref: { sha256: string; size: number }) => uploaded.has(ref.sha256) && ref.size === 10 };

const spec = (scene = "shot/scene.blend"): unknown => ({
  name: "sh010",
  frames: { start: 1, end: 4 },
  steps: [{ id: "render", kind: "blender", scene }],
  chunking: { mode: "fixed", size: 2 },
  output: { framePattern: "{job}/frame_{frame:04}.png" },
});

const good: SceneFile[] = [
  { path: "tex/wood.png", sha256: B, size: 10 },
  { path: "shot/scene.blend", sha256: A, size: 10 },
];

function deps(t: Parameters<typeof openTempStore>[0]): SubmitDeps {
  const { store, dir } = openTempStore(t);
  mkdirSync(join(dir, "out"));
  return { store, outputRoot: join(dir, "out"), modelsDir: BUNDLED_MODELS_DIR, sharedRoot: null, assets, clock: () => 1_000 };
}

test("a scene tree that was uploaded becomes the job's step, sorted, with the scene's hash", async (t) => {
  const d = deps(t);
  const { jobId } = await submitJob(d, spec(), "/nonexistent-base", good);
  const [step] = JSON.parse(d.store.jobs.get(jobId)?.stepsJson ?? "[]") as Array<{ scene: string; sceneSha256: string; tree: SceneFile[] }>;
  assert.equal(step?.scene, "shot/scene.blend");
  assert.equal(step?.sceneSha256, A);
  assert.deepEqual(step?.tree.map((f) => f.path), ["shot/scene.blend", "tex/wood.png"]);
});

test("hostile or broken trees and scene names are refused, naming the field and the file; nothing is recorded", async (t) => {
  const d = deps(t);
  const cases: Array<[string, SceneFile[], RegExp]> = [
    ["shot/scene.blend", [...good, { path: "../outside.png", sha256: C, size: 10 }], /sceneTree\[2\]: file '\.\.\/outside\.png': .*must not contain '\.\.'/],
    ["shot/scene.blend", [...good, { path: "/etc/passwd", sha256: C, size: 10 }], /sceneTree\[2\]: file '\/etc\/passwd': .*must be relative/],
    ["shot/scene.blend", [...good, { path: "tex\\evil.png", sha256: C, size: 10 }], /sceneTree\[2\]: .*backslashes/],
    ["shot/scene.blend", [...good, { path: "tex/./a.png", sha256: C, size: 10 }], /sceneTree\[2\]: file 'tex\/\.\/a\.png': .*'\.' segments/],
    ["shot/scene.blend", [...good, { path: "tex//a.png", sha256: C, size: 10 }], /sceneTree\[2\]: .*empty or '\.' segments/],
    ["shot/scene.blend", [...good, { path: "tex/wood.png", sha256: C, size: 10 }], /sceneTree\[2\]: file 'tex\/wood\.png': .*listed twice/],
    ["shot/scene.blend", [...good, { path: "tex/wood.png/x.png", sha256: C, size: 10 }], /sceneTree\[2\]: .*'tex\/wood\.png' is both a file and a folder/],
    ["shot/scene.blend", [...good, { path: "tex/x.png", sha256: "../../etc", size: 10 }], /sceneTree\[2\]: .*sha256 must be 64 lower-case hex digits/],
    ["shot/scene.blend", [...good, { path: "tex/x.png", sha256: "d".repeat(64), size: 10 }], /sceneTree\[2\]: file 'tex\/x\.png' .*was not uploaded/],
    ["../shot/scene.blend", good, /steps\[0\]\.scene: .*must not contain '\.\.'/],
    ["/work/shot/scene.blend", good, /steps\[0\]\.scene: .*must be relative/],
    ["other/scene.blend", good, /steps\[0\]\.scene: the scene 'other\/scene\.blend' is not in the tree/],
  ];
  for (const [scene, tree, message] of cases) {
    await assert.rejects(submitJob(d, spec(scene), "/nonexistent-base", tree), (err: unknown) => err instanceof BadInputError && message.test(err.message), `${scene} ${JSON.stringify(tree.at(-1))}`);
  }
  assert.deepEqual(d.store.jobs.list(), []);
});

test("scene files sent with a job that has no blender step are refused", async (t) => {
  const d = deps(t);
  const job = { name: "g", input: { type: "generated", width: 8, height: 8, frames: 2 }, steps: [{ id: "g", kind: "model", model: "colour-grade" }], output: { framePattern: "{job}/f_{frame:04}.png" } };
  await assert.rejects(submitJob(d, job, "/nonexistent-base", good), /sceneTree: scene files were sent, but the job has no blender step/);
});

test("without a tree, a scene is only ever read under the shared root: '..', absolute paths and symlinks out are refused", async (t) => {
  const d = deps(t);
  const { dir } = openTempStore(t);
  const root = join(dir, "nas");
  mkdirSync(join(root, "shots"), { recursive: true });
  writeFileSync(join(dir, "secret.blend"), "not for the farm");
  const { symlinkSync } = await import("node:fs");
  symlinkSync(join(dir, "secret.blend"), join(root, "shots", "link.blend"));
  const withRoot = { ...d, sharedRoot: root };
  for (const [scene, message] of [
    ["../secret.blend", /steps\[0\]\.scene: .*must not contain '\.\.'/],
    [join(dir, "secret.blend"), /steps\[0\]\.scene: .*must be relative/],
    ["shots/link.blend", /steps\[0\]\.scene: 'shots\/link\.blend' leaves the shared root through a symlink/],
  ] as const) {
    await assert.rejects(submitJob(withRoot, spec(scene), dir), message, scene);
  }
});

test("the tree checks themselves: too many files, and every problem reported at once", () => {
  const many = Array.from({ length: 2001 }, (_, i) => ({ path: `f${i}.png`, sha256: A, size: 1 }));
  assert.match(sceneTreeProblems(many, "f0.png")[0]?.message ?? "", /has 2001 files; at most 2000/);
  const problems = sceneTreeProblems([{ path: "..", sha256: "x", size: -1 }], "s.blend");
  assert.equal(problems.length, 4, JSON.stringify(problems));
});
