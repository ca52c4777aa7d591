import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { AssetCollector } from "../../coordinator/assets/asset-collector.ts";
import { AssetStore } from "../../coordinator/assets/asset-store.ts";
import { ModelCatalog } from "../../coordinator/assets/model-catalog.ts";
import { compileAssetGcConfig } from "../../coordinator/config/asset-gc-config.ts";
import { submitJob } from "../../coordinator/jobs/submit-job.ts";
import type { Store } from "../../coordinator/store/store.ts";
import type { AssetRef } from "../../shared/assets/asset-ref.ts";
import { createRerenderJob } from "../../coordinator/provenance/rerender-job.ts";
import { insertAgent, openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

// The asset store's cleanup against a real SQLite store and a real asset store on disk: jobs are submitted with
// uploaded scene trees exactly as the Control service does, and the blobs' ages are set on the files themselves.

const HOUR = 3_600_000;
const sha = (b: string): string => createHash("sha256").update(b).digest("hex");

async function* once(b: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(b);
}

interface Farm {
  store: Store;
  assets: AssetStore;
  collector: AssetCollector;
  root: string;
  upload(b: string, ageMs?: number): Promise<AssetRef>;
  age(ref: AssetRef, ageMs: number): void;
  submit(name: string, files: Record<string, AssetRef>): Promise<string>;
}

function farm(t: TestContext, retentionHours = 24): Farm {
  const { store, dir } = openTempStore(t);
  mkdirSync(join(dir, "out"));
  const root = join(dir, "assets");
  const assets = new AssetStore(root);
  const collector = new AssetCollector(store, assets, Date.now, compileAssetGcConfig({ assetRetentionHours: retentionHours, assetUploadGraceMinutes: 60, assetGcIntervalMinutes: 0 }), testLog());
  const age = (ref: AssetRef, ageMs: number): void => {
    const then = new Date(Date.now() - ageMs);
    utimesSync(join(root, "blobs", ref.sha256.slice(0, 2), ref.sha256), then, then);
  };
  return {
    store, assets, collector, root, age,
    async upload(b, ageMs = 0) {
      const ref = await assets.put(once(b), { sha256: sha(b) });
      if (ageMs > 0) age(ref, ageMs);
      return ref;
    },
    async submit(name, files) {
      const tree = Object.entries(files).map(([path, r]) => ({ path, ...r }));
      const spec = { name, frames: { start: 1, end: 2 }, steps: [{ id: "render", kind: "blender", scene: "scene.blend" }], output: { framePattern: "{job}/frame_{frame:04}.png" } };
      const deps = { store, outputRoot: join(dir, "out"), modelsDir: BUNDLED_MODELS_DIR, sharedRoot: null, assets, clock: Date.now };
      return (await submitJob(deps, spec, "/nonexistent-base", tree)).jobId;
    },
  };
}

const removedSet = (r: { removed: AssetRef[] }): Set<string> => new Set(r.removed.map((a) => a.sha256));

test("only blobs that no model, no active job and no job within its retention names, and that are older than the upload grace, go", async (t) => {
  const f = farm(t, 24);
  const day = 24 * HOUR;
  // A queued job (its files uploaded long ago), a job cancelled an hour ago (within retention) and one cancelled
  // three days ago (past it): the clock the store records is the real one, moved back by rewriting finished_at.
  const queued = { scene: await f.upload("queued scene", 3 * day), tex: await f.upload("shared texture", 3 * day) };
  await f.submit("queued", { "scene.blend": queued.scene, "tex/a.png": queued.tex });
  const recent = { scene: await f.upload("recent scene", 3 * day) };
  const recentJob = await f.submit("recent", { "scene.blend": recent.scene, "tex/a.png": queued.tex });
  const old = { scene: await f.upload("old scene", 3 * day), tex: await f.upload("old texture", 3 * day) };
  const oldJob = await f.submit("old", { "scene.blend": old.scene, "tex/b.png": old.tex });
  f.store.jobs.transition(recentJob, "cancelled", Date.now() - HOUR);
  f.store.jobs.transition(oldJob, "cancelled", Date.now() - 3 * day);
  const model = await f.upload("model bytes", 3 * day);
  f.store.models.put({ name: "m", sha256: model.sha256, size: model.size, manifestJson: "{}", license: "", source: "", addedAt: 0 });
  const orphanOld = await f.upload("orphan, old", 2 * HOUR);
  const orphanFresh = await f.upload("orphan, just uploaded");
  // Submitting claimed every tree file (mtime now): age them again, as if the submits were days ago.
  for (const r of [queued.scene, queued.tex, recent.scene, old.scene, old.tex]) f.age(r, 3 * day);

  const dry = await f.collector.collect({ dryRun: true });
  assert.deepEqual(removedSet(dry), new Set([old.scene.sha256, old.tex.sha256, orphanOld.sha256]));
  assert.equal(dry.keptRecent, 1, "the fresh orphan");
  assert.equal(dry.keptInUse, 4, "queued scene, shared texture, recent scene, model");
  assert.equal(f.assets.list().length, 8, "a dry run removes nothing");

  const real = await f.collector.collect({ dryRun: false });
  assert.deepEqual(removedSet(real), removedSet(dry));
  assert.equal(real.removedBytes, old.scene.size + old.tex.size + orphanOld.size);
  assert.deepEqual(new Set(f.assets.list().map((a) => a.sha256)), new Set([queued.scene.sha256, queued.tex.sha256, recent.scene.sha256, model.sha256, orphanFresh.sha256]));
  assert.equal((await f.collector.collect({ dryRun: false })).removed.length, 0, "a second run finds nothing more");
});

test("a submit racing the collector: its files are claimed at MissingAssets and at the tree check, so none goes before the job row names it", async (t) => {
  const f = farm(t, 0);
  // Files a finished job left long ago; the retention is 0, so nothing but freshness keeps them.
  const scene = await f.upload("scene from last month", 30 * 24 * HOUR);
  const tex = await f.upload("texture from last month", 30 * 24 * HOUR);
  // The client asks what the store lacks: the store has both, and says so by claiming them.
  assert.equal(f.assets.claim(scene), true);
  assert.equal(f.assets.claim(tex), true);
  // The collector runs between that answer and the submit: both are fresh, both stay.
  const between = await f.collector.collect({ dryRun: false });
  assert.equal(between.removed.length, 0);
  assert.equal(between.keptRecent, 2);
  const jobId = await f.submit("sh010", { "scene.blend": scene, "tex/wood.png": tex });
  // Once the row exists the queued job keeps them, however old they get.
  f.age(scene, 30 * 24 * HOUR);
  f.age(tex, 30 * 24 * HOUR);
  assert.equal((await f.collector.collect({ dryRun: false })).keptInUse, 2);
  assert.equal(f.assets.has(scene) && f.assets.has(tex), true);
  // The job ends; with no retention the next collection takes both.
  f.store.jobs.transition(jobId, "cancelled", Date.now() - 1000);
  assert.deepEqual(removedSet(await f.collector.collect({ dryRun: false })), new Set([scene.sha256, tex.sha256]));
  // A submit naming files the collector already took is refused, naming the file: no job that could not run.
  await assert.rejects(f.submit("sh020", { "scene.blend": scene }), /file 'scene.blend'.*was not uploaded to the asset store/);
});

test("the submit's own tree check claims the files (a client that skipped MissingAssets is covered too)", async (t) => {
  const f = farm(t, 0);
  const scene = await f.upload("scene", 30 * 24 * HOUR);
  const before = f.assets.entries()[0]?.touchedAtMs ?? 0;
  const jobId = await f.submit("sh030", { "scene.blend": scene });
  assert.ok((f.assets.entries()[0]?.touchedAtMs ?? 0) > before + 29 * 24 * HOUR, "the check set the blob's time to now");
  // Even once the job is over and nothing names it, the claim keeps the blob for the grace.
  f.store.jobs.transition(jobId, "cancelled", Date.now() - 1000);
  const r = await f.collector.collect({ dryRun: false });
  assert.deepEqual([r.removed.length, r.keptRecent], [0, 1]);
  // Uploading bytes the store already has refreshes them the same way.
  f.age(scene, 30 * 24 * HOUR);
  await f.upload("scene");
  assert.equal((await f.collector.collect({ dryRun: false })).removed.length, 0);
});

test("models rm keeps bytes a queued job still names; the collector takes them once the job is over", async (t) => {
  const f = farm(t, 0);
  const catalog = new ModelCatalog(f.store, f.assets, Date.now, (s) => f.collector.neededNow(s));
  // A Blender job whose tree holds the same bytes as a model (a texture added as a model by mistake, say).
  const bytes = "shared bytes";
  const ref = await f.upload(bytes, 2 * HOUR);
  f.store.models.put({ name: "m", sha256: ref.sha256, size: ref.size, manifestJson: "{}", license: "", source: "", addedAt: 0 });
  const jobId = await f.submit("sh040", { "scene.blend": ref });
  await catalog.remove("m");
  assert.equal(f.assets.has(ref), true, "the queued job still needs the bytes");
  f.store.jobs.transition(jobId, "cancelled", Date.now() - 1000);
  f.age(ref, 2 * HOUR);
  assert.deepEqual(removedSet(await f.collector.collect({ dryRun: false })), new Set([ref.sha256]));
  // With nothing else naming them, models rm removes the bytes at once, as before.
  const other = await f.upload("model only", 2 * HOUR);
  f.store.models.put({ name: "n", sha256: other.sha256, size: other.size, manifestJson: "{}", license: "", source: "", addedAt: 0 });
  await catalog.remove("n");
  assert.equal(f.assets.has(other), false);
});

test("verify --rerender of a job whose scene files were collected is refused naming the file; within retention it claims them", async (t) => {
  const f = farm(t, 24);
  const scene = await f.upload("scene", 3 * 24 * HOUR);
  const jobId = await f.submit("sh050", { "scene.blend": scene });
  const maker = insertAgent(f.store, { id: "agt_maker" });
  insertAgent(f.store, { id: "agt_other" });
  f.store.jobs.transition(jobId, "running", Date.now());
  f.store.jobs.transition(jobId, "done", Date.now() - HOUR);
  const chunk = f.store.chunks.listByJob(jobId)[0]!;
  f.store.frames.upsert({ jobId, frame: 1, chunkId: chunk.id, attemptId: "att_1", agentId: maker.id, modelSha256: scene.sha256, seed: 0, sha256: "0".repeat(64), bytes: 1, path: "/x.png", committedAt: Date.now() });
  f.age(scene, 3 * 24 * HOUR);
  // Within the retention: the rerender is created and its scene claimed (fresh again).
  const r = createRerenderJob(f.store, jobId, [1], Date.now, f.assets);
  assert.ok((f.assets.entries()[0]?.touchedAtMs ?? 0) > Date.now() - 60_000);
  f.store.jobs.transition(r.jobId, "cancelled", Date.now() - 3 * 24 * HOUR);
  // Past it (rewritten here as a retention of 0), the scene is collected, and a rerender says why it cannot run.
  const strict = new AssetCollector(f.store, f.assets, () => Date.now() + 2 * HOUR, compileAssetGcConfig({ assetRetentionHours: 0, assetUploadGraceMinutes: 60, assetGcIntervalMinutes: 0 }), testLog());
  assert.deepEqual(removedSet(await strict.collect({ dryRun: false })), new Set([scene.sha256]));
  assert.throws(() => createRerenderJob(f.store, jobId, [1], Date.now, f.assets), /scene file 'scene.blend' is no longer in the asset store/);
});

test("a claim or a job row that lands after the store was listed but before the decision keeps the blob", async (t) => {
  const f = farm(t, 0);
  const claimed = await f.upload("claimed between listing and decision", 30 * 24 * HOUR);
  const named = await f.upload("named by a job written between listing and decision", 30 * 24 * HOUR);
  const orphan = await f.upload("nobody's", 30 * 24 * HOUR);
  // The real store, with a pause after its listing in which a client's MissingAssets and a submit land.
  const racing = new (class extends AssetStore {
    override async entriesAsync(): ReturnType<AssetStore["entriesAsync"]> {
      const listed = await super.entriesAsync();
      assert.equal(listed.length, 3);
      f.assets.claim(claimed);
      await f.submit("sh060", { "scene.blend": named });
      f.age(named, 30 * 24 * HOUR);
      return listed;
    }
  })(f.root);
  const collector = new AssetCollector(f.store, racing, Date.now, compileAssetGcConfig({ assetRetentionHours: 0, assetUploadGraceMinutes: 60, assetGcIntervalMinutes: 0 }), testLog());
  const r = await collector.collect({ dryRun: false });
  assert.deepEqual(removedSet(r), new Set([orphan.sha256]));
  assert.deepEqual([f.assets.has(claimed), f.assets.has(named), f.assets.has(orphan)], [true, true, false]);
});
