import { createHash, randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { open, readdir, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { AssetMismatchError, blobPath, checkSha256, isSha256, type AssetRef } from "../../shared/assets/asset-ref.ts";
import { installFile } from "../../shared/assets/install-file.ts";

/** Bytes per streamed part: large enough that per-message cost vanishes, small enough to resume cheaply. */
export const ASSET_PART_BYTES = 1024 * 1024;

/** The store has no asset with this sha256 (and size). */
export class AssetNotFoundError extends Error {
  override readonly name = "AssetNotFoundError";
}

/**
 * The coordinator's content-addressed asset store, kept under its data dir
 * (`<dataDir>/assets`): `blobs/<ab>/<sha256>` for complete assets and
 * `incoming/` for uploads being written. Every path comes from a validated
 * sha256, so no name a user sends can point outside the folder. An upload is
 * hashed while it is written and installed only when complete and verified.
 * A blob's mtime is when a client last uploaded it or was told the store has
 * it (put, claim): the collector (asset-collector.ts) never removes a blob
 * touched within its upload grace, so a submit's files stay between their
 * upload and the job row that names them.
 */
export class AssetStore {
  private readonly blobs: string;
  private readonly incoming: string;

  constructor(readonly root: string) {
    this.blobs = join(root, "blobs");
    this.incoming = join(root, "incoming");
    mkdirSync(this.blobs, { recursive: true });
    // Uploads cut by a crash are never resumed: the client sends them again.
    rmSync(this.incoming, { recursive: true, force: true });
    mkdirSync(this.incoming, { recursive: true });
  }

  /** The asset's size, or undefined when the store lacks it. */
  stat(sha256: string): AssetRef | undefined {
    const path = blobPath(this.blobs, sha256);
    try {
      const s = statSync(path);
      return s.isFile() ? { sha256, size: s.size } : undefined;
    } catch {
      return undefined;
    }
  }

  has(ref: AssetRef): boolean {
    return this.stat(ref.sha256)?.size === ref.size;
  }

  /**
   * has(), and when the store has the asset, marks it as just handed to a
   * client (mtime = now), which keeps it from the collector for its upload
   * grace: MissingAssets and a submit's tree check claim what they accept.
   */
  claim(ref: AssetRef): boolean {
    if (!this.has(ref)) return false;
    return this.touch(ref.sha256);
  }

  /** Every asset in the store. */
  list(): AssetRef[] {
    return this.entries().map(({ sha256, size }) => ({ sha256, size }));
  }

  /** Every asset in the store with the time it was last uploaded or claimed. */
  entries(): Array<AssetRef & { touchedAtMs: number }> {
    const out: Array<AssetRef & { touchedAtMs: number }> = [];
    for (const prefix of readdirSync(this.blobs)) {
      for (const name of readdirSync(join(this.blobs, prefix))) {
        if (!isSha256(name)) continue;
        try {
          const s = statSync(join(this.blobs, prefix, name));
          if (s.isFile()) out.push({ sha256: name, size: s.size, touchedAtMs: s.mtimeMs });
        } catch {
          // Removed while listing.
        }
      }
    }
    return out;
  }

  /** entries(), without holding the event loop for the whole walk (the collector lists a large store this way). */
  async entriesAsync(): Promise<Array<AssetRef & { touchedAtMs: number }>> {
    const out: Array<AssetRef & { touchedAtMs: number }> = [];
    for (const prefix of await readdir(this.blobs)) {
      for (const name of await readdir(join(this.blobs, prefix)).catch(() => [] as string[])) {
        if (!isSha256(name)) continue;
        const s = await stat(join(this.blobs, prefix, name)).catch(() => undefined);
        if (s?.isFile()) out.push({ sha256: name, size: s.size, touchedAtMs: s.mtimeMs });
      }
    }
    return out;
  }

  /**
   * Removes the asset unless it was uploaded or claimed at or after
   * `cutoffMs`, synchronously (the collector checks the job rows and removes
   * in one turn of the event loop). True when it was removed.
   */
  removeIfUntouchedSince(sha256: string, cutoffMs: number): boolean {
    const path = blobPath(this.blobs, checkSha256(sha256));
    try {
      if (statSync(path).mtimeMs >= cutoffMs) return false;
    } catch {
      return false;
    }
    rmSync(path, { force: true });
    return true;
  }

  private touch(sha256: string): boolean {
    const now = new Date();
    try {
      utimesSync(blobPath(this.blobs, sha256), now, now);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The asset's bytes from `offset` on, in parts of at most `partBytes`. Throws
   * AssetNotFoundError when the store lacks an asset of that sha256 and size.
   */
  read(ref: AssetRef, offset: number, partBytes = ASSET_PART_BYTES): AsyncIterable<Buffer> {
    return this.readInto(ref, offset, (_at, n) => {
      const into = Buffer.allocUnsafe(n);
      return { into, part: into };
    }, partBytes);
  }

  /**
   * Like read, but each part's bytes are read straight into the buffer that
   * `place(at, n)` hands out (for Fetch: the middle of the encoded message,
   * so the bytes are never copied on the coordinator's side), and what it
   * returns as `part` is yielded. Parts come in order; the file is closed when
   * the loop ends, however it ends.
   */
  readInto<T>(ref: AssetRef, offset: number, place: (at: number, n: number) => { into: Uint8Array; part: T }, partBytes = ASSET_PART_BYTES): AsyncIterable<T> {
    if (!this.has(ref)) throw new AssetNotFoundError(`no asset ${ref.sha256} of ${ref.size} bytes in the store`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > ref.size) {
      throw new AssetNotFoundError(`offset ${offset} is outside asset ${ref.sha256.slice(0, 12)}… of ${ref.size} bytes`);
    }
    return readParts(blobPath(this.blobs, ref.sha256), offset, ref.size, place, partBytes);
  }

  /**
   * Writes a stream of bytes into the store, hashing as it goes; installs it
   * under its sha256 when complete. `expected` (from the uploader) must match.
   */
  async put(data: AsyncIterable<Uint8Array>, expected: Partial<AssetRef> = {}): Promise<AssetRef> {
    const temp = join(this.incoming, randomUUID());
    const hash = createHash("sha256");
    let size = 0;
    const out = createWriteStream(temp, { flags: "wx" });
    try {
      for await (const chunk of data) {
        hash.update(chunk);
        size += chunk.length;
        if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", r));
      }
      out.end();
      await finished(out);
      const ref = { sha256: hash.digest("hex"), size };
      if ((expected.sha256 !== undefined && expected.sha256 !== ref.sha256) || (expected.size !== undefined && expected.size !== ref.size)) {
        throw new AssetMismatchError({ sha256: expected.sha256 ?? ref.sha256, size: expected.size ?? ref.size }, ref);
      }
      if (this.has(ref) && this.touch(ref.sha256)) await unlink(temp);
      else await installFile(temp, blobPath(this.blobs, ref.sha256));
      return ref;
    } catch (err) {
      out.destroy();
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** Removes an asset; a missing one is not an error. */
  async remove(sha256: string): Promise<void> {
    await rm(blobPath(this.blobs, checkSha256(sha256)), { force: true });
  }
}

/** Reads parts in order, the next one already in flight while the caller sends the current one. */
async function* readParts<T>(path: string, offset: number, size: number, place: (at: number, n: number) => { into: Uint8Array; part: T }, partBytes: number): AsyncGenerator<T> {
  const fh = await open(path, "r");
  const readPart = async (at: number): Promise<T> => {
    const n = Math.min(partBytes, size - at);
    const { into, part } = place(at, n);
    for (let got = 0; got < n; ) {
      const { bytesRead } = await fh.read(into, got, n - got, at + got);
      if (bytesRead === 0) throw new Error(`asset file ${path} ended at byte ${at + got} of ${size}`);
      got += bytesRead;
    }
    return part;
  };
  let next: Promise<T> | undefined;
  try {
    for (let at = offset; at < size; ) {
      const current = next ?? readPart(at);
      at += Math.min(partBytes, size - at);
      next = at < size ? readPart(at) : undefined;
      next?.catch(() => undefined); // awaited on the next turn, or dropped when the loop ends first
      yield await current;
    }
  } finally {
    await next?.catch(() => undefined);
    await fh.close();
  }
}
