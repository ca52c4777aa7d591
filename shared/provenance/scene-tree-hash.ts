import { createHash } from "node:crypto";

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
  // Each path encoded once, not once per comparison (a tree may hold 2,000 files).
  return files
    .map((f) => ({ f, key: Buffer.from(f.path, "utf8") }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ f }) => f);
}

export function sceneTreeSha256(files: readonly TreeEntry[]): string {
  for (const f of files) if (!Number.isSafeInteger(f.size)) throw new RangeError(`scene tree: size of '${f.path}' is not a whole number`);
  // For arrays of strings and safe integers JSON.stringify writes exactly canonicalJson's bytes, about 30 times faster.
  const triples = sortTree(files).map((f) => [f.path, f.sha256, f.size]);
  return createHash("sha256").update(JSON.stringify(triples), "utf8").digest("hex");
}
