import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { prepareScene } from "../../cli/scene/upload-scene.ts";
import { sceneReferences } from "../../cli/scene/scene-references.ts";
import { blenderBin, blenderMissing, buildBlenderScene } from "../support/blender-scene.ts";
import { tempDir } from "../helpers/temp-dir.ts";

// A scene that names its texture by absolute path: submit uploads a copy whose path Blender made relative
// to the scene, so the agent's rebuilt tree resolves it (the e2e test renders a relative one).

test("absolute paths are made relative in the uploaded copy; the original scene is left alone", { skip: blenderMissing() }, async (t) => {
  const dir = tempDir(t, "ns-scene-refs-");
  const scene = await buildBlenderScene(join(dir, "proj", "shots"), { frames: 1, texture: "../textures/wood.png", absoluteTexture: true });
  const texture = join(dir, "proj", "textures", "wood.png");
  const jobFile = join(dir, "proj", "job.json");
  const job = { name: "abs", frames: { start: 1, end: 1 }, steps: [{ id: "render", kind: "blender", scene: "shots/scene.blend" }] };
  writeFileSync(jobFile, JSON.stringify(job));

  const said: string[] = [];
  const prepared = await prepareScene(job, jobFile, { blender: blenderBin(), say: (l) => said.push(l) });
  assert.ok(prepared);
  t.after(() => prepared.cleanup());
  assert.match(said.join("\n"), /1 absolute path\(s\) made relative in the uploaded copy: .*textures\/wood\.png/);
  assert.deepEqual(prepared.tree.files.map((f) => f.path), ["shots/scene.blend", "textures/wood.png"]);
  assert.deepEqual((prepared.raw as typeof job).steps[0]?.scene, "shots/scene.blend");
  const [sceneFile] = prepared.tree.files;
  assert.notEqual(sceneFile?.sha256, scene.sha256, "the uploaded scene is the rewritten copy");
  assert.equal(readFileSync(scene.path).equals(readFileSync(sceneFile?.local ?? "")), false);

  // Put the copy where the original was: Blender now reads the texture's path as relative to the scene.
  copyFileSync(sceneFile?.local ?? "", scene.path);
  const again = await sceneReferences(blenderBin(), scene.path, join(dir, "unused.blend"));
  assert.deepEqual(again, { absolute: [texture], madeRelative: [], leftAbsolute: [] });
});
