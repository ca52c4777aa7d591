import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { utimesSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { adminChannel } from "../../cli/admin-credentials.ts";
import { Control } from "../../cli/control-client.ts";
import type { AssetRef } from "../../shared/assets/asset-ref.ts";
import { runCli } from "../support/run-cli.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";

// `nightshift assets gc` against a started coordinator: scene files uploaded over Control.PutAsset, a queued Blender
// job naming some of them, a model added with the CLI, and files a month old that nothing names.

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

async function* once(b: Buffer): AsyncIterable<Buffer> {
  yield b;
}

test("assets gc lists (--dry-run) then removes only the blobs nothing names; queued jobs and models keep theirs", async (t) => {
  const dir = tempDir(t, "ns-e2e-assets-gc-");
  const c = await startTestCoordinator(t, dir, { assetGcIntervalMinutes: 0, assetRetentionHours: 0 });
  const admin = ["--coordinator", c.address, "--admin-credentials", join(dir, "data", "admin")];
  const control = new Control(c.address, adminChannel({ adminCredentials: join(dir, "data", "admin") }));
  t.after(() => control.close());
  const monthAgo = new Date(Date.now() - 30 * 24 * 3_600_000);
  const blob = (ref: AssetRef): string => join(dir, "data", "assets", "blobs", ref.sha256.slice(0, 2), ref.sha256);
  const upload = async (text: string): Promise<AssetRef> => {
    const bytes = Buffer.from(text);
    const ref = await control.putAsset({ sha256: sha(bytes), size: bytes.length }, once(bytes));
    utimesSync(blob(ref), monthAgo, monthAgo);
    return ref;
  };

  const added = await runCli(["models", "add", join(BUNDLED_MODELS_DIR, "colour-grade.onnx"), "--name", "kept-grade", "--json", ...admin]);
  assert.equal(added.status, 0, added.stderr);
  const model = JSON.parse(added.stdout) as AssetRef;
  utimesSync(blob(model), monthAgo, monthAgo);
  const scene = await upload("a scene that a queued job names");
  const orphan = await upload("a texture of a shot nobody submitted");
  const asked = await upload("asked about just now");
  // The store says it has this one: that claim keeps it for the upload grace.
  assert.deepEqual((await control.missingAssets([{ sha256: asked.sha256, size: asked.size }])).assets, []);
  const spec = { name: "sh010", frames: { start: 1, end: 2 }, steps: [{ id: "render", kind: "blender", scene: "scene.blend" }], output: { framePattern: "{job}/frame_{frame:04}.png" } };
  const { jobId } = await control.submit(JSON.stringify(spec), dir, [{ path: "scene.blend", ...scene }]);
  assert.equal(c.store.jobs.get(jobId)?.state, "queued");
  utimesSync(blob(scene), monthAgo, monthAgo);

  const dry = await runCli(["assets", "gc", "--dry-run", "--json", ...admin]);
  assert.equal(dry.status, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as { dryRun: boolean; removed: AssetRef[]; keptInUse: number; keptRecent: number };
  assert.deepEqual([plan.dryRun, plan.removed.map((a) => a.sha256), plan.keptInUse, plan.keptRecent], [true, [orphan.sha256], 2, 1]);
  assert.equal(c.assets.has(orphan), true, "a dry run removes nothing");

  const run = await runCli(["assets", "gc", ...admin]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`removed ${orphan.sha256}`));
  assert.match(run.stdout, /removed 1 blob\(s\)/);
  assert.deepEqual([c.assets.has(orphan), c.assets.has(scene), c.assets.has(model), c.assets.has(asked)], [false, true, true, true]);

  // The job is cancelled (retention 0): its scene goes at the next collection, the model stays.
  assert.equal((await runCli(["job", "cancel", jobId, ...admin])).status, 0);
  const after = JSON.parse((await runCli(["assets", "gc", "--json", ...admin])).stdout) as { removed: AssetRef[] };
  assert.deepEqual(after.removed.map((a) => a.sha256), [scene.sha256]);
  assert.equal(c.assets.has(model), true);
});
