import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import { MAX_TREE_FILES, treePathProblem, type SceneFile } from "../../shared/assets/scene-tree.ts";
import { sha256File } from "../../shared/model-manifest/model-file-hash.ts";
import type { SceneReferences } from "./scene-references.ts";

/**
 * Turns a scene and the files Blender says it references into a tree: every
 * file with its path relative to the deepest folder that holds them all (so
 * `//../textures/wood.png` still points at the right file when the agent
 * rebuilds the tree), its sha256 and size, and where it lies here. Patterns
 * (`<UDIM>`, `<UVTILE>`, `####`) become the files that match; a folder (a
 * simulation cache) becomes the files under it. Missing files are reported
 * together, each by name.
 */

export interface LocalSceneFile extends SceneFile {
  /** Where the bytes are on this machine (the rewritten copy for a scene whose paths were made relative). */
  local: string;
}

export interface LocalSceneTree {
  /** The scene's path in the tree. */
  scene: string;
  files: LocalSceneFile[];
}

const PATTERN = /<UDIM>|<UVTILE>|#+/;

export async function sceneTreeFiles(scenePath: string, refs: SceneReferences, sceneBytesAt: string): Promise<LocalSceneTree> {
  const scene = resolve(scenePath);
  const found = new Set<string>();
  const missing: string[] = [];
  for (const ref of new Set(refs.absolute)) {
    const matches = await expand(resolve(ref));
    if (matches.length === 0) missing.push(ref);
    for (const m of matches) found.add(m);
  }
  if (missing.length > 0) {
    throw new BadInputError(`scene '${scenePath}' references ${missing.length === 1 ? "a file that does not exist" : `${missing.length} files that do not exist`}: ${missing.map((m) => `'${m}'`).join(", ")}`, {
      field: missing[0] ?? "scene",
    });
  }
  found.delete(scene);
  const all = [scene, ...[...found].sort()];
  if (all.length > MAX_TREE_FILES) throw new BadInputError(`scene '${scenePath}' needs ${all.length} files; a submit takes at most ${MAX_TREE_FILES}`, { field: "scene" });
  const root = commonFolder(all.map((f) => dirname(f)));
  const files: LocalSceneFile[] = [];
  for (const file of all) {
    const path = relative(root, file).split(sep).join("/");
    const problem = treePathProblem(path);
    if (problem !== undefined) throw new BadInputError(`scene file '${file}': ${problem}`, { field: file });
    const local = file === scene ? sceneBytesAt : file;
    const info = await stat(local);
    files.push({ path, sha256: await sha256File(local), size: info.size, local });
  }
  return { scene: files[0]?.path ?? "", files };
}

/** The files a referenced path stands for: itself, the files matching its pattern, or the files under the folder it names. */
async function expand(path: string): Promise<string[]> {
  const name = basename(path);
  if (PATTERN.test(name)) {
    const re = new RegExp(`^${name.split(new RegExp(PATTERN, "g")).map(escapeRegex).join("[0-9uv_]+")}$`);
    const names = await readdir(dirname(path)).catch(() => [] as string[]);
    return names.filter((n) => re.test(n)).map((n) => join(dirname(path), n));
  }
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return [];
  if (info.isFile()) return [path];
  if (!info.isDirectory()) return [];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).slice(0, MAX_TREE_FILES + 1);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The deepest folder that holds every one of `dirs` (absolute paths). */
function commonFolder(dirs: string[]): string {
  let parts = (dirs[0] ?? sep).split(sep);
  for (const d of dirs.slice(1)) {
    const other = d.split(sep);
    let i = 0;
    while (i < parts.length && i < other.length && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(sep) || sep;
}
