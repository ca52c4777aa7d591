import { createHash } from "node:crypto";

/**
 * Why this file exists: one signature per chunk instead of one per frame.
 * The chunk's frame records are the leaves of a binary hash tree; the
 * coordinator signs its root once, and each frame carries the few sibling
 * hashes (its inclusion path, ceil(log2 n) of them) that lead from its own
 * record to that root, so every file still proves itself alone.
 *
 * Hashing follows RFC 6962 (Certificate Transparency) domain separation: a
 * leaf is sha256(0x00 || bytes), an inner node sha256(0x01 || left || right),
 * so a leaf can never pass for a node. The tree's shape is fixed by the leaf
 * count alone: each level pairs nodes left to right and carries an odd last
 * node up unchanged (never duplicated, which would let two leaf lists share
 * a root). The signed statement names the count, so a path's length and
 * which side each sibling sits on follow from (index, count).
 */

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export function leafHash(bytes: string | Uint8Array): Buffer {
  return createHash("sha256").update(LEAF).update(bytes).digest();
}

function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256").update(NODE).update(left).update(right).digest();
}

/** Every level of the tree over `leaves` (leaf hashes), leaves first, root last. */
export function treeLevels(leaves: readonly Buffer[]): Buffer[][] {
  if (leaves.length === 0) throw new RangeError("a hash tree needs at least one leaf");
  const levels: Buffer[][] = [[...leaves]];
  for (let level = levels[0]!; level.length > 1; ) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(i + 1 < level.length ? nodeHash(level[i]!, level[i + 1]!) : level[i]!);
    levels.push(up);
    level = up;
  }
  return levels;
}

export function rootOf(levels: readonly Buffer[][]): Buffer {
  return levels[levels.length - 1]![0]!;
}

/** The sibling hashes from leaf `index` up to the root (a carried-up node has none at that level). */
export function inclusionPath(levels: readonly Buffer[][], index: number): Buffer[] {
  if (!Number.isInteger(index) || index < 0 || index >= levels[0]!.length) throw new RangeError(`leaf ${index} is not in a tree of ${levels[0]!.length}`);
  const path: Buffer[] = [];
  let i = index;
  for (const level of levels.slice(0, -1)) {
    const sibling = i % 2 === 1 ? i - 1 : i + 1;
    if (sibling < level.length) path.push(level[sibling]!);
    i = Math.floor(i / 2);
  }
  return path;
}

/**
 * The root that leaf hash `leaf` at `index` of a `count`-leaf tree leads to
 * along `path`; undefined when the path's length does not fit that shape.
 */
export function rootFromPath(leaf: Uint8Array, index: number, count: number, path: readonly Uint8Array[]): Buffer | undefined {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) return undefined;
  let node: Buffer = Buffer.from(leaf);
  let used = 0;
  for (let i = index, width = count; width > 1; i = Math.floor(i / 2), width = Math.ceil(width / 2)) {
    if (i % 2 === 1) {
      const left = path[used++];
      if (left === undefined) return undefined;
      node = nodeHash(left, node);
    } else if (i + 1 < width) {
      const right = path[used++];
      if (right === undefined) return undefined;
      node = nodeHash(node, right);
    }
  }
  return used === path.length ? node : undefined;
}
