import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.ts";

/**
 * One hash for a whole Blender scene tree (the .blend and every file it
 * references, as `nightshift submit` uploaded them), so a frame's provenance
 * can name all the files that made it in 64 hex digits, and the job's
 * manifest.json can list the files themselves.
 *
 * Definition (nightshift-scene-tree/1):
 *   treeSha256 = lower-case hex sha256 of the UTF-8 bytes of
 *     canonicalJson([[path, sha256, size], ...])
 *   with one [path, sha256, size] triple per file, sorted by path compared as
 *   UTF-8 byte strings (ascending; paths are unique in a tree), where path is
 *   the file's '/'-separated path relative to the tree's root, sha256 the
 *   lower-case hex sha256 of its bytes and size its length in bytes (an
 *   integer). canonicalJson writes JSON with no whitespace and strings as
 *   JSON.stringify escapes them, e.g. for two files:
 *     [["scene.blend","<64 hex>",1024],["tex/wood.png","<64 hex>",2048]]
 * The order of the input does not matter; every field of every file does.
 */

export const SCENE_TREE_HASH_FORMAT = "nightshift-scene-tree/1";

export interface TreeEntry {
  path: string;
  sha256: string;
  size: number;
}

/** The tree's entries sorted as the hash defines (by path, UTF-8 byte order). */
export function sortTree<T extends TreeEntry>(files: readonly T[]): T[] {
  return [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path, "utf8"), Buffer.from(b.path, "utf8")));
}

export function sceneTreeSha256(files: readonly TreeEntry[]): string {
  const triples = sortTree(files).map((f) => [f.path, f.sha256, f.size]);
  return createHash("sha256").update(canonicalJson(triples), "utf8").digest("hex");
}
