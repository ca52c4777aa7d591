import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AssetCache, type AssetSource } from "../../agent/assets/asset-cache.ts";
import { SceneTrees, treeKey } from "../../agent/executors/blender/scene-trees.ts";
import { AssetUnavailableError, type AssetRef } from "../../shared/assets/asset-ref.ts";
import type { SceneFile } from "../../shared/assets/scene-tree.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

// The agent's side of a scene sent by content: files fetched through the asset cache (verified), laid out
// as the submitter had them in <cache>/scenes/<tree hash>/, read-only, never outside that folder.

function memorySource(files: Record<string, string>): { source: AssetSource; tree: SceneFile[]; fetches: string[] } {
  const bytes = new Map<string, Buffer>();
  const fetches: string[] = [];
  const tree = Object.entries(files).map(([path, text]) => {
    const b = Buffer.from(text);
    const sha256 = createHash("sha256").update(b).digest("hex");
    bytes.set(sha256, b);
    return { path, sha256, size: b.length };
  });
  const source: AssetSource = {
    async *fetch(ref: AssetRef, offset: number) {
      fetches.push(ref.sha256);
      const b = bytes.get(ref.sha256);
      if (!b) throw new AssetUnavailableError(`no asset ${ref.sha256}`);
      yield b.subarray(offset);
    },
  };
  return { source, tree, fetches };
}

function setup(t: Parameters<typeof tempDir>[0], files: Record<string, string>, keep?: number) {
  const dir = tempDir(t, "ns-scene-trees-");
  const { source, tree, fetches } = memorySource(files);
  const assets = new AssetCache({ dir: join(dir, "cache"), capBytes: 1 << 20, source, log: testLog() });
  const trees = new SceneTrees({ assets, dir: join(dir, "cache", "scenes"), ...(keep === undefined ? {} : { keep }) });
  return { dir, tree, fetches, assets, trees };
}

test("a tree is rebuilt with its folders, files read-only, each fetched once; a second acquire reuses it", async (t) => {
  const { tree, fetches, trees } = setup(t, { "shot/scene.blend": "BLENDER-v304", "tex/wood.png": "wood", "tex/sub/bump.png": "bump", "shot/copy.png": "wood" });
  const [a, b] = await Promise.all([trees.acquire(tree), trees.acquire(tree)]);
  assert.equal(a.root, b.root);
  assert.equal(a.root.endsWith(treeKey(tree)), true);
  assert.equal(readFileSync(join(a.root, "shot", "scene.blend"), "utf8"), "BLENDER-v304");
  assert.equal(readFileSync(join(a.root, "tex", "sub", "bump.png"), "utf8"), "bump");
  assert.equal(readFileSync(join(a.root, "shot", "copy.png"), "utf8"), "wood");
  assert.equal(statSync(join(a.root, "tex", "wood.png")).mode & 0o222, 0, "Blender reads the files; nothing may change a cached blob");
  assert.equal(fetches.length, 3, "same content fetched once");
  a.release();
  b.release();
  const again = await trees.acquire(tree);
  assert.equal(again.root, a.root);
  assert.equal(fetches.length, 3);
  again.release();
});

test("a path that would leave the tree is refused even if the coordinator sent it, and nothing is left behind", async (t) => {
  const { dir, tree, trees } = setup(t, { "scene.blend": "s" });
  const first = tree[0] as SceneFile;
  for (const path of ["../escape.png", "/etc/evil.png", "a/../../b.png"]) {
    await assert.rejects(trees.acquire([first, { ...first, path }]), /refusing path/, path);
  }
  assert.equal(existsSync(join(dir, "escape.png")), false);
  assert.deepEqual(readdirSync(join(dir, "cache", "scenes")), [], "half-built trees are removed");
});

test("a file the store does not have fails the tree and leaves no folder", async (t) => {
  const { dir, tree, trees } = setup(t, { "scene.blend": "s" });
  const missing = { path: "tex/gone.png", sha256: "e".repeat(64), size: 3 };
  await assert.rejects(trees.acquire([...tree, missing]), /no asset/);
  assert.deepEqual(readdirSync(join(dir, "cache", "scenes")), []);
});

test("only the most recently used trees are kept, never one in use", async (t) => {
  const { tree, trees, dir } = setup(t, { "a/scene.blend": "one", "b/scene.blend": "two", "c/scene.blend": "three" }, 1);
  const [one, two, three] = tree.map((f) => [{ ...f, path: "scene.blend" }]) as [SceneFile[], SceneFile[], SceneFile[]];
  const held = await trees.acquire(one);
  const second = await trees.acquire(two);
  second.release();
  const third = await trees.acquire(three);
  const left = readdirSync(join(dir, "cache", "scenes"));
  assert.deepEqual(left.sort(), [treeKey(one), treeKey(three)].sort(), "the unused older tree went; the one in use and the newest stayed");
  held.release();
  third.release();
});
