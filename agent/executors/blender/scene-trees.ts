import { createHash, randomUUID } from "node:crypto";
import { chmod, copyFile, link, mkdir, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { AssetCache } from "../../assets/asset-cache.ts";
import { treePathProblem, type SceneFile } from "../../../shared/assets/scene-tree.ts";

/**
 * Scenes that travelled by content (uploaded at submit, no shared mount): the
 * agent fetches each file through its asset cache (verified by sha256) and
 * rebuilds the submitter's layout in `<cache>/scenes/<tree hash>/`, so
 * Blender's `//` paths resolve as they did on the artist's machine. A tree is
 * built in a temporary folder and renamed into place when complete, so a
 * folder that exists is whole. Files are hard links to the cache's blobs,
 * made read-only (Blender reads them; nothing may change a blob), or copies
 * where a link is impossible. Only the most recently used trees are kept,
 * never one a running chunk uses.
 */

export interface SceneTreesOptions {
  assets: Pick<AssetCache, "ensure">;
  dir: string;
  /** Trees kept when not in use. Default 8. */
  keep?: number;
  /** Files fetched at once. Default 4. */
  parallel?: number;
}

/** A rebuilt tree, held until release() (then it may be removed to make room). */
export interface SceneTreeLease {
  root: string;
  release(): void;
}

export class SceneTrees {
  private readonly building = new Map<string, Promise<string>>();
  private readonly inUse = new Map<string, number>();

  constructor(private readonly opts: SceneTreesOptions) {}

  /** The tree's folder, fetched and built first when this agent lacks it. */
  async acquire(tree: readonly SceneFile[], signal?: AbortSignal): Promise<SceneTreeLease> {
    const key = treeKey(tree);
    this.inUse.set(key, (this.inUse.get(key) ?? 0) + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const n = (this.inUse.get(key) ?? 1) - 1;
      if (n <= 0) this.inUse.delete(key);
      else this.inUse.set(key, n);
    };
    try {
      let p = this.building.get(key);
      if (!p) {
        p = this.build(key, tree, signal).finally(() => this.building.delete(key));
        this.building.set(key, p);
      }
      const root = await p;
      await this.prune();
      return { root, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  private async build(key: string, tree: readonly SceneFile[], signal?: AbortSignal): Promise<string> {
    const root = join(this.opts.dir, key);
    if (await stat(root).then((s) => s.isDirectory(), () => false)) {
      const now = new Date();
      await utimes(root, now, now).catch(() => undefined);
      return root;
    }
    const temp = join(this.opts.dir, `.building-${randomUUID()}`);
    try {
      await mkdir(temp, { recursive: true });
      const queue = [...tree];
      const worker = async (): Promise<void> => {
        try {
          for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
            signal?.throwIfAborted();
            await this.place(temp, f, signal);
          }
        } catch (err) {
          queue.length = 0; // the others stop taking files
          throw err;
        }
      };
      // Every worker has stopped before the half-built folder is removed (one still placing a file would leave it behind).
      const settled = await Promise.allSettled(Array.from({ length: this.opts.parallel ?? 4 }, worker));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      await rename(temp, root).catch(async (err: NodeJS.ErrnoException) => {
        // Another agent process on this cache finished the same tree first: theirs is as good.
        if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
        await rm(temp, { recursive: true, force: true });
      });
      return root;
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      throw err;
    }
  }

  /** One file: fetched (verified) into the cache, then linked into the tree at its checked path. */
  private async place(temp: string, f: SceneFile, signal?: AbortSignal): Promise<void> {
    const problem = treePathProblem(f.path);
    const target = resolve(temp, f.path);
    if (problem !== undefined || !target.startsWith(temp + sep)) throw new Error(`scene tree: refusing path '${f.path}': ${problem ?? "it leaves the tree"}`);
    const blob = await this.opts.assets.ensure({ sha256: f.sha256, size: f.size }, signal);
    await mkdir(dirname(target), { recursive: true });
    await chmod(blob, 0o444).catch(() => undefined);
    await link(blob, target).catch(() => copyFile(blob, target));
  }

  /** Removes the least recently used trees beyond `keep` that no chunk uses. */
  private async prune(): Promise<void> {
    const keep = this.opts.keep ?? 8;
    const names = (await readdir(this.opts.dir).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n));
    if (names.length <= keep) return;
    const aged = await Promise.all(names.map(async (n) => ({ n, at: (await stat(join(this.opts.dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => b.at - a.at);
    for (const { n } of aged.slice(keep)) {
      if (!this.inUse.has(n) && !this.building.has(n)) await rm(join(this.opts.dir, n), { recursive: true, force: true });
    }
  }
}

/** The tree's name: sha256 over its sorted (path, sha256, size) lines. */
export function treeKey(tree: readonly SceneFile[]): string {
  const lines = tree.map((f) => `${f.path}\0${f.sha256}\0${f.size}\n`).sort();
  return createHash("sha256").update(lines.join("")).digest("hex");
}
