import type { SpecIssue } from "../../shared/job-spec/spec-issue.ts";
import { sceneTreeProblems, type SceneFile } from "../../shared/assets/scene-tree.ts";
import type { AssetStore } from "../assets/asset-store.ts";

/**
 * A submit's scene tree (a Blender scene and the files it references, sent by
 * content) checked before a job may name it: safe relative paths only, the
 * scene among them, and every file already in the asset store with the size
 * the tree says. The coordinator reads none of the submitter's files; what
 * it hands agents is the tree itself, sorted by path. Each file found is
 * claimed (asset-store.ts), so the collector leaves it while the job row that
 * names it is being written.
 */
export function checkSceneTree(
  tree: readonly SceneFile[],
  scene: string,
  assets: Pick<AssetStore, "claim"> | undefined,
  issues: SpecIssue[],
  sceneField: ReadonlyArray<PropertyKey>,
): { sceneSha256: string; files: SceneFile[] } | null {
  const before = issues.length;
  for (const p of sceneTreeProblems(tree, scene)) {
    if (p.index >= 0) issues.push({ path: ["sceneTree", p.index], message: `file '${p.file}': ${p.message}` });
    else if (p.file === scene) issues.push({ path: sceneField, message: p.message });
    else issues.push({ path: ["sceneTree"], message: p.message });
  }
  if (issues.length > before) return null;
  if (assets === undefined) {
    issues.push({ path: ["sceneTree"], message: "this coordinator has no asset store, so it cannot take a scene by upload" });
    return null;
  }
  for (const [i, f] of tree.entries()) {
    if (!assets.claim(f)) issues.push({ path: ["sceneTree", i], message: `file '${f.path}' (${f.size} bytes, sha256 ${f.sha256.slice(0, 12)}…) was not uploaded to the asset store` });
  }
  if (issues.length > before) return null;
  const files = [...tree].map(({ path, sha256, size }) => ({ path, sha256, size })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const sceneFile = files.find((f) => f.path === scene);
  return sceneFile ? { sceneSha256: sceneFile.sha256, files } : null;
}
