import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { AssetCollector } from "../../coordinator/assets/asset-collector.ts";
import { AssetStore } from "../../coordinator/assets/asset-store.ts";
import { compileAssetGcConfig } from "../../coordinator/config/asset-gc-config.ts";
import { submitJob } from "../../coordinator/jobs/submit-job.ts";
import { createRerenderJob } from "../../coordinator/provenance/rerender-job.ts";
import { BadInputError } from "../../shared/errors.ts";
import { insertAgent, openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";
import { img2img } from "../support/comfyui-standin/workflows.ts";
import { sentWorkflowFile } from "../support/comfyui-standin/sent-workflow.ts";

// A comfyui job's input images against a real SQLite store and a real asset store on disk: submit takes them only
// when uploaded, the collector keeps them while the job can run (and for the retention after), `assets list` names
// them, and a rerender after they were collected is refused naming the image.

const HOUR = 3_600_000;
const sha = (b: string): string => createHash("sha256").update(b).digest("hex");

async function* once(b: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(b);
}

test("a comfyui job's input image is kept while the job names it, listed with its job, and a rerender after collection names it", async (t) => {
  const { store, dir } = openTempStore(t);
  mkdirSync(join(dir, "out"));
  writeFileSync(join(dir, "wf.api.json"), JSON.stringify(img2img()));
  const assets = new AssetStore(join(dir, "assets"));
  const gc = (nowMs: () => number, retentionHours: number): AssetCollector =>
    new AssetCollector(store, assets, nowMs, compileAssetGcConfig({ assetRetentionHours: retentionHours, assetUploadGraceMinutes: 60, assetGcIntervalMinutes: 0 }), testLog());
  const deps = { store, outputRoot: join(dir, "out"), modelsDir: BUNDLED_MODELS_DIR, sharedRoot: null, assets, clock: Date.now };
  const spec = (image: unknown): unknown => ({
    name: "hero",
    frames: { start: 1, end: 1 },
    steps: [{ id: "gen", kind: "comfyui", workflow: sentWorkflowFile(dir, "wf.api.json"), images: { "10": image } }],
    output: { framePattern: "{job}/frame_{frame:04}.png" },
  });
  const ref = { file: "reference.png", sha256: sha("reference"), size: "reference".length };

  // Not uploaded yet: refused naming node and file; nothing is written.
  await assert.rejects(submitJob(deps, spec(ref), dir), (e: unknown) => e instanceof BadInputError && /steps\[0\]\.images\.10: node '10' \(LoadImage\) image 'reference\.png' .* was not uploaded/.test(e.message));
  assert.equal(store.jobs.list().length, 0);

  await assets.put(once("reference"), { sha256: ref.sha256 });
  const old = new Date(Date.now() - 3 * 24 * HOUR);
  utimesSync(join(dir, "assets", "blobs", ref.sha256.slice(0, 2), ref.sha256), old, old);
  const { jobId } = await submitJob(deps, spec(ref), dir);
  const listed = gc(Date.now, 0).list();
  assert.deepEqual(listed, [{ sha256: ref.sha256, size: ref.size, kinds: ["comfyui image"], names: ["reference.png"], jobs: [jobId] }]);

  // Queued, with a blob uploaded days ago and claimed again at submit: kept, also hours later (past the grace).
  assert.deepEqual((await gc(() => Date.now() + 2 * HOUR, 0).collect({ dryRun: false })).removed, []);

  // Done within the retention: a rerender claims the image; past it the image goes and a rerender names it.
  const maker = insertAgent(store, { id: "agt_maker" });
  insertAgent(store, { id: "agt_other" });
  store.jobs.transition(jobId, "running", Date.now());
  store.jobs.transition(jobId, "done", Date.now() - 3 * 24 * HOUR);
  const chunk = store.chunks.listByJob(jobId)[0]!;
  store.frames.upsert({ jobId, frame: 1, chunkId: chunk.id, attemptId: "att_1", agentId: maker.id, modelSha256: ref.sha256, seed: 0, sha256: "0".repeat(64), bytes: 1, path: "/x.png", committedAt: Date.now() });
  assert.deepEqual((await gc(() => Date.now() + 2 * HOUR, 0).collect({ dryRun: false })).removed.map((a) => a.sha256), [ref.sha256]);
  assert.throws(() => createRerenderJob(store, jobId, [1], Date.now, assets), /input image 'reference\.png' \(node 10\) is no longer in the asset store/);
});
