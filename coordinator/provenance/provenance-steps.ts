import { createHash } from "node:crypto";
import { canonicalJson } from "../../shared/provenance/canonical-json.ts";
import { stepHashes, type ProvenanceStep } from "../../shared/provenance/provenance-manifest.ts";
import { sceneTreeSha256, sortTree } from "../../shared/provenance/scene-tree-hash.ts";
import type { SceneFile } from "../../shared/assets/scene-tree.ts";
import type { WorkStep } from "../../shared/steps/work-step.ts";

/**
 * A job's frame steps as provenance names them: {id, kind, hashes}. Every
 * `<name>Sha256` field of the resolved work step (model, scene, workflow)
 * becomes hashes.<name>; a command step's command line (program and
 * arguments, canonical JSON) is hashed as hashes.command. A Blender step
 * whose scene came as an uploaded tree also names the whole tree:
 * hashes.tree and tree.files (the count); with `treeList` (the job's
 * manifest.json) tree.list holds the files themselves. A comfyui step's input
 * images sent by content are hashes["image:<node id>"].
 */
export function provenanceSteps(steps: readonly WorkStep[], opts: { treeList?: boolean } = {}): ProvenanceStep[] {
  return steps.map((s) => {
    const hashes = stepHashes(s as unknown as Record<string, unknown>);
    if (s.kind === "comfyui") for (const img of s.images ?? []) hashes[`image:${img.node}`] = img.sha256;
    if (s.kind === "command") hashes.command = createHash("sha256").update(canonicalJson([s.program, ...s.args])).digest("hex");
    if (s.kind === "blender" && s.tree !== undefined && s.tree.length > 0) {
      hashes.tree = treeHashOf(s.tree);
      const list = opts.treeList ? sortTree(s.tree).map(({ path, sha256, size }) => ({ path, sha256, size })) : undefined;
      return { id: s.id, kind: s.kind, hashes, tree: { files: s.tree.length, ...(list ? { list } : {}) } };
    }
    return { id: s.id, kind: s.kind, hashes };
  });
}

/** Tree hashes by tree array: a job's steps are parsed once (JobSpecs), so each chunk's commit reuses the hash. */
const treeHashes = new WeakMap<readonly SceneFile[], string>();

function treeHashOf(tree: readonly SceneFile[]): string {
  let hash = treeHashes.get(tree);
  if (hash === undefined) {
    hash = sceneTreeSha256(tree);
    treeHashes.set(tree, hash);
  }
  return hash;
}
