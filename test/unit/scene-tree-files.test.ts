import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { sceneTreeFiles } from "../../cli/scene/scene-tree-files.ts";
import { BadInputError } from "../../shared/errors.ts";
import { tempDir } from "../helpers/temp-dir.ts";

// The CLI's half of a scene sent by content, given what Blender said the scene references (the Blender
// run itself is covered by test/integration/scene-references.test.ts and the e2e test).

function files(dir: string, names: string[]): void {
  for (const n of names) {
    mkdirSync(join(dir, n, ".."), { recursive: true });
    writeFileSync(join(dir, n), n);
  }
}

const refs = (absolute: string[]) => ({ absolute, madeRelative: [], leftAbsolute: [] });

test("paths are relative to the deepest folder holding everything, so '//../' references still resolve", async (t) => {
  const dir = tempDir(t, "ns-tree-files-");
  files(dir, ["proj/shots/sh010/scene.blend", "proj/textures/wood.png", "proj/shots/sh010/tex/a.png"]);
  const tree = await sceneTreeFiles(join(dir, "proj/shots/sh010/scene.blend"), refs([join(dir, "proj/textures/wood.png"), join(dir, "proj/shots/sh010/tex/a.png")]), join(dir, "proj/shots/sh010/scene.blend"));
  assert.equal(tree.scene, "shots/sh010/scene.blend");
  assert.deepEqual(tree.files.map((f) => [f.path, f.size]), [
    ["shots/sh010/scene.blend", "proj/shots/sh010/scene.blend".length],
    ["shots/sh010/tex/a.png", "proj/shots/sh010/tex/a.png".length],
    ["textures/wood.png", "proj/textures/wood.png".length],
  ]);
});

test("UDIM tiles, frame-number patterns and cache folders stand for the files they match", async (t) => {
  const dir = tempDir(t, "ns-tree-files-");
  files(dir, ["s/scene.blend", "s/tex/skin.1001.png", "s/tex/skin.1002.png", "s/tex/skin.txt", "s/seq/img_0001.png", "s/seq/img_0002.png", "s/cache/a/1.vdb", "s/cache/b.vdb"]);
  const tree = await sceneTreeFiles(join(dir, "s/scene.blend"), refs([join(dir, "s/tex/skin.<UDIM>.png"), join(dir, "s/seq/img_####.png"), join(dir, "s/cache")]), join(dir, "s/scene.blend"));
  assert.deepEqual(tree.files.map((f) => f.path), ["scene.blend", "cache/a/1.vdb", "cache/b.vdb", "seq/img_0001.png", "seq/img_0002.png", "tex/skin.1001.png", "tex/skin.1002.png"]);
});

test("every missing file is named, and the first is the error's field", async (t) => {
  const dir = tempDir(t, "ns-tree-files-");
  files(dir, ["s/scene.blend", "s/tex/here.png"]);
  const missing = [join(dir, "s/tex/gone.png"), join(dir, "s/tex/none.<UDIM>.png")];
  await assert.rejects(
    sceneTreeFiles(join(dir, "s/scene.blend"), refs([join(dir, "s/tex/here.png"), ...missing]), join(dir, "s/scene.blend")),
    (err: unknown) => err instanceof BadInputError && err.field === missing[0] && err.message.includes("2 files that do not exist") && err.message.includes("gone.png") && err.message.includes("none.<UDIM>.png"),
  );
});

test("the scene's bytes may come from a rewritten copy while its path stays the original's", async (t) => {
  const dir = tempDir(t, "ns-tree-files-");
  files(dir, ["s/scene.blend", "tmp/copy.blend"]);
  const tree = await sceneTreeFiles(join(dir, "s/scene.blend"), refs([]), join(dir, "tmp/copy.blend"));
  assert.deepEqual(tree.files.map((f) => [f.path, f.local, f.size]), [["scene.blend", join(dir, "tmp/copy.blend"), "tmp/copy.blend".length]]);
});
