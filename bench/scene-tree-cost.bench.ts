/**
 * What naming a whole scene tree in provenance, and collecting the asset
 * store, cost, each against a baseline measured in the same run.
 *
 *   node --import tsx bench/scene-tree-cost.bench.ts [--files 2000] [--rounds 200] [--blobs 2000]
 *
 * 1. The tree hash of a `--files` file tree (the most a submit may send),
 *    computed cold (a job's first chunk commit; later commits reuse it), and
 *    a frame record's step list with the tree named, against signing one
 *    frame record (ES256, work the coordinator already does per frame).
 * 2. One `assets gc --dry-run` pass over `--blobs` blobs with 50 jobs in a
 *    real SQLite store, against listing the same blobs (the directory walk
 *    the pass cannot avoid).
 * Prints JSON; medians over `--rounds` (pass 2: 5 rounds).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AssetCollector } from "../coordinator/assets/asset-collector.ts";
import { AssetStore } from "../coordinator/assets/asset-store.ts";
import { compileAssetGcConfig } from "../coordinator/config/asset-gc-config.ts";
import { openProvenanceSigner } from "../coordinator/provenance/provenance-key.ts";
import { provenanceSteps } from "../coordinator/provenance/provenance-steps.ts";
import { Store } from "../coordinator/store/store.ts";
import { StudioCa } from "../coordinator/trust/studio-ca.ts";
import { sceneTreeSha256 } from "../shared/provenance/scene-tree-hash.ts";
import { signManifest } from "../shared/provenance/provenance-signature.ts";
import { silentLogger } from "../shared/log.ts";
import type { WorkStep } from "../shared/steps/work-step.ts";
import { median } from "./bench-cli.ts";

const { values } = parseArgs({ options: { files: { type: "string", default: "2000" }, rounds: { type: "string", default: "200" }, blobs: { type: "string", default: "2000" } } });
const files = Number(values.files);
const rounds = Number(values.rounds);
const blobs = Number(values.blobs);
const sha = (s: string): string => createHash("sha256").update(s).digest("hex");
const time = async (fn: () => unknown, n: number): Promise<number> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(out);
};

const dir = mkdtempSync(join(tmpdir(), "ns-bench-tree-"));
try {
  const tree = Array.from({ length: files }, (_, i) => ({ path: `tex/set_${Math.floor(i / 100)}/file_${i}.png`, sha256: sha(String(i)), size: 1000 + i }));
  const step = { id: "render", kind: "blender", scene: "tex/set_0/file_0.png", sceneSha256: tree[0]!.sha256 };
  const ca = await StudioCa.open(join(dir, "ca"));
  const signer = await openProvenanceSigner(dir, ca);
  const record = (steps: unknown) => ({ format: "nightshift-frame/1", job: { id: "job_1", name: "sh010" }, frame: 1, steps, seed: 0, pixels: { sha256: sha("p"), width: 1920, height: 1080 }, signedAt: new Date().toISOString() });
  const signMs = await time(() => void signManifest(record(provenanceSteps([step as unknown as WorkStep])), signer), rounds);
  const treeHashMs = await time(() => void sceneTreeSha256(tree), rounds);
  const cachedTree = { ...step, tree } as unknown as WorkStep;
  provenanceSteps([cachedTree]);
  const stepsCachedMs = await time(() => void provenanceSteps([cachedTree]), rounds);

  const store = Store.open(join(dir, "store.sqlite"));
  const assets = new AssetStore(join(dir, "assets"));
  for (let i = 0; i < blobs; i++) {
    async function* one(): AsyncIterable<Uint8Array> {
      yield Buffer.from(`blob ${i}`);
    }
    await assets.put(one());
  }
  for (let j = 0; j < 50; j++) {
    const jobTree = Array.from({ length: 40 }, (_, i) => ({ path: `f${i}`, sha256: sha(`blob ${j * 40 + i}`), size: 1 }));
    store.jobs.insert({
      id: `job_${j}`, name: "j", state: "queued", priority: 0, specJson: "{}", baseDir: "/", outputDir: "/o", frameStart: 1, frameEnd: 1, fps: 24, seed: 0,
      modelName: "blender:render", modelSha256: jobTree[0]!.sha256, stepsJson: JSON.stringify([{ ...step, sceneSha256: jobTree[0]!.sha256, tree: jobTree }]), recipeSha256: sha(String(j)), shotsJson: "[]", createdAt: 0,
    });
  }
  const collector = new AssetCollector(store, assets, Date.now, compileAssetGcConfig({ assetRetentionHours: 168, assetUploadGraceMinutes: 60, assetGcIntervalMinutes: 0 }), silentLogger());
  const listMs = await time(() => void assets.list(), 5);
  const gcMs = await time(() => collector.collect({ dryRun: true }), 5);
  store.close();
  process.stdout.write(
    JSON.stringify(
      {
        files,
        rounds,
        signOneFrameRecordMs: signMs,
        treeHashColdMs: treeHashMs,
        treeHashColdOverSign: treeHashMs / signMs,
        stepsWithTreeCachedMs: stepsCachedMs,
        stepsCachedOverSign: stepsCachedMs / signMs,
        blobs,
        listBlobsMs: listMs,
        gcDryRunMs: gcMs,
        gcOverList: gcMs / listMs,
      },
      null,
      1,
    ) + "\n",
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
