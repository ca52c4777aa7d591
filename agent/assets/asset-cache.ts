import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, statSync } from "node:fs";
import { open, rm, stat, truncate, utimes } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../shared/log.ts";
import { AssetMismatchError, AssetUnavailableError, blobPath, isSha256, type AssetRef } from "../../shared/assets/asset-ref.ts";
import { installFile } from "../../shared/assets/install-file.ts";

/** Bytes taken from the source but not yet written, at most, before the transfer waits for the disk. */
const WRITE_BEHIND_BYTES = 8 * 1024 * 1024;

/** Where the cache gets bytes it lacks: the coordinator's ModelStore (agent/grpc/asset-fetch.ts), or a test's stand-in. */
export interface AssetSource {
  /** The asset's bytes from `offset` on. Throws AssetUnavailableError when retrying cannot help. */
  fetch(ref: AssetRef, offset: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

export interface AssetCacheOptions {
  dir: string;
  /** Size cap in bytes (`cacheSize` in the agent's config). */
  capBytes: number;
  source: AssetSource;
  log: Logger;
  /** How many times a broken transfer is resumed before the fetch fails. Default 5. */
  maxResumes?: number;
  /** Pause before a resume, ms (times the attempt number). Default 200. */
  resumeDelayMs?: number;
}

/** The asset does not fit: the cap is smaller than the asset plus what pinned assets hold. */
export class CacheFullError extends Error {
  override readonly name = "CacheFullError";
}

interface Entry {
  size: number;
  usedAt: number;
}

/**
 * The agent's content-addressed cache (`<dataDir>/cache`): complete assets in
 * `blobs/<ab>/<sha256>`, transfers in progress in `partial/<sha256>`. Size
 * capped; the least recently used asset goes first, never a pinned one (an
 * asset a claimed or running chunk needs). Concurrent requests for one hash
 * share one transfer. A broken transfer resumes from the partial file's length;
 * the bytes are hashed as they arrive and installed (fsync + rename) only when
 * their sha256 and size are the ones asked for.
 */
export class AssetCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pins = new Map<string, number>();
  private readonly inflight = new Map<string, { size: number; done: Promise<string> }>();
  private readonly blobs: string;
  private readonly partial: string;

  constructor(private readonly opts: AssetCacheOptions) {
    this.blobs = join(opts.dir, "blobs");
    this.partial = join(opts.dir, "partial");
    mkdirSync(this.blobs, { recursive: true });
    mkdirSync(this.partial, { recursive: true });
    // What a previous run left complete is known again, oldest use first by mtime.
    for (const prefix of readdirSync(this.blobs)) {
      for (const name of readdirSync(join(this.blobs, prefix))) {
        if (!isSha256(name)) continue;
        const s = statSync(join(this.blobs, prefix, name));
        if (s.isFile()) this.entries.set(name, { size: s.size, usedAt: s.mtimeMs });
      }
    }
  }

  /** The cache's folder (blobs/, partial/; other users of the cache keep their own subfolders). */
  get dir(): string {
    return this.opts.dir;
  }

  /** sha256 of every complete asset held (advertised in heartbeats). */
  hashes(): string[] {
    return [...this.entries.keys()];
  }

  has(ref: AssetRef): boolean {
    return this.entries.get(ref.sha256)?.size === ref.size;
  }

  /** Bytes held by complete assets. */
  bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.size;
    return n;
  }

  /** Keeps the asset from eviction until the returned release runs (safe to call twice). */
  pin(sha256: string): () => void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pins.get(sha256) ?? 1) - 1;
      if (n <= 0) this.pins.delete(sha256);
      else this.pins.set(sha256, n);
    };
  }

  /** The path of the complete, verified asset; fetched first when the cache lacks it. */
  async ensure(ref: AssetRef, signal?: AbortSignal): Promise<string> {
    const path = blobPath(this.blobs, ref.sha256);
    if (this.has(ref)) {
      this.touch(ref.sha256, path);
      return path;
    }
    const running = this.inflight.get(ref.sha256);
    if (running) return running.size === ref.size ? running.done : Promise.reject(new AssetMismatchError(ref, { sha256: ref.sha256, size: running.size }));
    const done = this.download(ref, path, signal).finally(() => this.inflight.delete(ref.sha256));
    this.inflight.set(ref.sha256, { size: ref.size, done });
    return done;
  }

  private touch(sha256: string, path: string): void {
    const e = this.entries.get(sha256);
    if (!e) return;
    e.usedAt = Date.now();
    const at = new Date(e.usedAt);
    void utimes(path, at, at).catch(() => undefined);
  }

  private async download(ref: AssetRef, path: string, signal?: AbortSignal): Promise<string> {
    const release = this.pin(ref.sha256);
    try {
      await this.makeRoom(ref);
      const partial = join(this.partial, ref.sha256);
      const hash = createHash("sha256");
      const progress = { offset: await this.resumePoint(partial, ref.size, hash) };
      const maxResumes = this.opts.maxResumes ?? 5;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.append(ref, partial, progress, hash, signal);
          if (progress.offset === ref.size) break;
          throw new Error(`transfer ended at byte ${progress.offset} of ${ref.size}`);
        } catch (err) {
          if (err instanceof AssetUnavailableError || err instanceof AssetMismatchError || signal?.aborted || attempt >= maxResumes) throw err;
          this.opts.log.warn({ sha256: ref.sha256, offset: progress.offset, size: ref.size, attempt: attempt + 1, err: (err as Error).message }, "asset transfer broke; resuming");
          await sleep((this.opts.resumeDelayMs ?? 200) * (attempt + 1), undefined, signal ? { signal } : {});
        }
      }
      const actual = { sha256: hash.digest("hex"), size: progress.offset };
      if (actual.sha256 !== ref.sha256) {
        await rm(partial, { force: true });
        throw new AssetMismatchError(ref, actual);
      }
      await installFile(partial, path);
      this.entries.set(ref.sha256, { size: ref.size, usedAt: Date.now() });
      this.opts.log.info({ sha256: ref.sha256, size: ref.size }, "asset cached");
      return path;
    } finally {
      release();
    }
  }

  /** The partial file's length (its bytes fed to the hash), or 0 after throwing away one longer than the asset. */
  private async resumePoint(partial: string, size: number, hash: ReturnType<typeof createHash>): Promise<number> {
    const have = await stat(partial).then((s) => s.size, () => 0);
    if (have > size) {
      await truncate(partial, 0);
      return 0;
    }
    let n = 0;
    if (have > 0) {
      for await (const chunk of createReadStream(partial, { end: have - 1 })) {
        hash.update(chunk as Buffer);
        n += (chunk as Buffer).length;
      }
    }
    return n;
  }

  /**
   * Appends what the source sends from `progress.offset` on, advancing it (and
   * the hash) after each whole write, so a broken stream leaves the exact
   * resume point. Refuses more bytes than the asset has. The next parts are
   * taken from the source while a write is in flight (up to WRITE_BEHIND_BYTES
   * waiting), but the writes themselves run one at a time, in order, each
   * starting where the last one ended: the partial file only ever grows by
   * whole parts at its end, never with a hole before bytes that landed, so its
   * length stays the resume point (as when each write was awaited in turn).
   */
  private async append(ref: AssetRef, partial: string, progress: { offset: number }, hash: ReturnType<typeof createHash>, signal?: AbortSignal): Promise<void> {
    const fh = await open(partial, progress.offset === 0 ? "w" : "r+");
    let writes: Promise<void> = Promise.resolve();
    let failed: { err: unknown } | undefined;
    let received = progress.offset;
    try {
      for await (const data of this.opts.source.fetch(ref, progress.offset, signal)) {
        if (failed) throw failed.err;
        const at = received;
        if (at + data.length > ref.size) throw new AssetMismatchError(ref, { sha256: "(longer than announced)", size: at + data.length });
        received = at + data.length;
        // A failed write stops the chain: no later part is written after it.
        writes = writes.then(async () => {
          const { bytesWritten } = await fh.write(data, 0, data.length, at);
          if (bytesWritten !== data.length) throw new Error(`short write to the partial file: ${bytesWritten} of ${data.length} bytes at ${at}`);
          hash.update(data);
          progress.offset = at + data.length;
        });
        writes.catch((err: unknown) => (failed ??= { err }));
        if (received - progress.offset >= WRITE_BEHIND_BYTES) await writes;
      }
      await writes;
    } finally {
      // Never close the file under a write in flight; what landed is in progress.offset either way.
      await writes.catch(() => undefined);
      await fh.close();
    }
  }

  /** Evicts least recently used, unpinned assets until `ref` fits under the cap. */
  private async makeRoom(ref: AssetRef): Promise<void> {
    const cap = this.opts.capBytes;
    let reserved = 0;
    for (const [sha, f] of this.inflight) if (sha !== ref.sha256) reserved += f.size;
    let used = this.bytes() + reserved;
    if (used + ref.size <= cap) return;
    const victims = [...this.entries].filter(([sha]) => !this.pins.has(sha)).sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [sha, e] of victims) {
      if (used + ref.size <= cap) break;
      await rm(blobPath(this.blobs, sha), { force: true });
      this.entries.delete(sha);
      used -= e.size;
      this.opts.log.info({ sha256: sha, size: e.size }, "asset evicted from the cache");
    }
    if (used + ref.size > cap) {
      throw new CacheFullError(`asset ${ref.sha256.slice(0, 12)}… (${ref.size} bytes) does not fit in the cache: cap ${cap} bytes, ${used} held by assets in use or in transfer`);
    }
  }
}
