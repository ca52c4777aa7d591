import { storedSteps } from "../jobs/job-specs.ts";
import type { Store } from "../store/store.ts";
import type { AssetStore } from "./asset-store.ts";
import { jobAssetHashes } from "./asset-references.ts";

/**
 * `nightshift assets list`: every blob in the coordinator's asset store with
 * what it is and who names it: the models catalogue (by model name), every
 * job's steps (a Blender scene tree's files by path, a comfyui step's input
 * images by file name) and the ids of the jobs that name it, of any state.
 * A blob nothing names is listed with no kind; `assets gc` takes it once its
 * upload grace is over.
 */
export interface StoredAsset {
  sha256: string;
  size: number;
  /** "model", "scene file", "comfyui image"; empty when nothing names the blob. */
  kinds: string[];
  names: string[];
  /** Ids of the jobs whose steps name it. */
  jobs: string[];
}

export function listStoredAssets(store: Pick<Store, "models" | "jobs">, assets: Pick<AssetStore, "list">): StoredAsset[] {
  const listed = assets.list();
  const byHash = new Map<string, { size: number; kinds: Set<string>; names: Set<string>; jobs: Set<string> }>();
  for (const a of listed) byHash.set(a.sha256, { size: a.size, kinds: new Set(), names: new Set(), jobs: new Set() });
  const note = (sha256: string, kind: string | null, name: string | null): void => {
    const e = byHash.get(sha256);
    if (e === undefined) return;
    if (kind !== null) e.kinds.add(kind);
    if (name !== null) e.names.add(name);
  };
  for (const m of store.models.list()) note(m.sha256, "model", m.name);
  for (const job of store.jobs.list()) {
    for (const sha of jobAssetHashes(job)) byHash.get(sha)?.jobs.add(job.id);
    let steps;
    try {
      steps = storedSteps(job);
    } catch {
      continue; // a row whose steps no longer parse still counts by its hashes above
    }
    for (const s of steps) {
      if (s.kind === "blender") for (const f of s.tree ?? []) note(f.sha256, "scene file", f.path);
      if (s.kind === "comfyui") for (const i of s.images ?? []) note(i.sha256, "comfyui image", i.name);
      if (s.kind === "model") note(s.modelSha256, "model", s.model);
    }
  }
  return [...byHash]
    .map(([sha256, e]) => ({ sha256, size: e.size, kinds: [...e.kinds].sort(), names: [...e.names].sort(), jobs: [...e.jobs].sort() }))
    .sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
}
