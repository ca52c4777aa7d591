import { posix } from "node:path";
import { z } from "zod";
import { relativePathProblem } from "../safe-path.ts";
import { isSha256 } from "./asset-ref.ts";

/**
 * A Blender scene travelling by content: the .blend and every file it
 * references, each as a path relative to the tree's root with the sha256 and
 * size of its bytes in the coordinator's asset store. The agent rebuilds the
 * same layout in its cache, so Blender's `//` (relative to the .blend) paths
 * resolve. Paths come from a user's machine, so the checks here are the only
 * thing between them and a file system: relative, '/'-separated, no '..',
 * no '.' or empty segments, no duplicates, no file that is also a folder.
 */

/** Enough for any real shot (textures, caches, linked libraries) and small enough to keep a work message bounded. */
export const MAX_TREE_FILES = 2_000;
const MAX_PATH_CHARS = 1024;

export const SceneFileSchema = z.object({
  path: z.string().min(1).max(MAX_PATH_CHARS),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});

export type SceneFile = z.infer<typeof SceneFileSchema>;

/** One problem with a tree entry: which file (its path as sent) and why. */
export interface TreeProblem {
  index: number;
  file: string;
  message: string;
}

/** Why `path` may not be a tree path, or undefined when it may. */
export function treePathProblem(path: string): string | undefined {
  if (path.length > MAX_PATH_CHARS) return `path is longer than ${MAX_PATH_CHARS} characters`;
  const lexical = relativePathProblem(path);
  if (lexical !== undefined) return lexical;
  if (path.split("/").some((s) => s === "" || s === ".")) return `'${path}' must not contain empty or '.' segments`;
  return undefined;
}

/**
 * Every problem with a tree sent by a submit: bad paths, bad hashes, repeats,
 * a file that another entry treats as a folder, too many files, and a scene
 * that is not in the tree.
 */
export function sceneTreeProblems(tree: readonly { path: string; sha256: string; size: number }[], scene: string): TreeProblem[] {
  const problems: TreeProblem[] = [];
  if (tree.length > MAX_TREE_FILES) problems.push({ index: -1, file: "", message: `has ${tree.length} files; at most ${MAX_TREE_FILES}` });
  const seen = new Set<string>();
  for (const [index, f] of tree.entries()) {
    const add = (message: string): void => void problems.push({ index, file: f.path, message });
    const pathProblem = treePathProblem(f.path);
    if (pathProblem !== undefined) add(pathProblem);
    if (!isSha256(f.sha256)) add(`sha256 must be 64 lower-case hex digits, got '${f.sha256.slice(0, 80)}'`);
    if (!Number.isSafeInteger(f.size) || f.size < 0) add(`size must be a whole number of bytes, got ${f.size}`);
    if (seen.has(f.path)) add(`'${f.path}' is listed twice`);
    seen.add(f.path);
  }
  for (const [index, f] of tree.entries()) {
    for (let dir = posix.dirname(f.path); dir !== "." && dir !== "/"; dir = posix.dirname(dir)) {
      if (seen.has(dir)) problems.push({ index, file: f.path, message: `'${dir}' is both a file and a folder in the tree` });
    }
  }
  const sceneProblem = treePathProblem(scene);
  if (sceneProblem !== undefined) problems.push({ index: -1, file: scene, message: sceneProblem });
  else if (!seen.has(scene)) problems.push({ index: -1, file: scene, message: `the scene '${scene}' is not in the tree` });
  return problems;
}
