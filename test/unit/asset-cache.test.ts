import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AssetCache, CacheFullError, type AssetSource } from "../../agent/assets/asset-cache.ts";
import { AssetMismatchError, AssetUnavailableError, type AssetRef } from "../../shared/assets/asset-ref.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

const refOf = (b: Buffer): AssetRef => ({ sha256: createHash("sha256").update(b).digest("hex"), size: b.length });

/** An in-memory source following the ModelStore's contract: bytes from an offset, in parts. */
class MemorySource implements AssetSource {
  readonly assets = new Map<string, Buffer>();
  readonly calls: Array<{ sha256: string; offset: number }> = [];
  /** Break the next transfer after this many bytes (a cut connection). */
  cutAfter: number | undefined;
  /** Started transfers wait for this before sending (to overlap concurrent requests). */
  gate: Promise<void> = Promise.resolve();
  /** Serve these bytes instead of the real ones (a corrupt store or a lying peer). */
  corrupt = false;

  add(b: Buffer): AssetRef {
    const ref = refOf(b);
    this.assets.set(ref.sha256, b);
    return ref;
  }

  async *fetch(ref: AssetRef, offset: number): AsyncIterable<Uint8Array> {
    this.calls.push({ sha256: ref.sha256, offset });
    await this.gate;
    const b = this.assets.get(ref.sha256);
    if (!b) throw new AssetUnavailableError(`no asset ${ref.sha256}`);
    const cut = this.cutAfter;
    this.cutAfter = undefined;
    let sent = 0;
    for (let i = offset; i < b.length; i += 1000) {
      const part = Buffer.from(b.subarray(i, Math.min(i + 1000, b.length)));
      if (this.corrupt) part.fill(0);
      if (cut !== undefined && sent + part.length > cut) throw new Error("connection reset");
      sent += part.length;
      yield part;
    }
  }
}

function cacheWith(t: Parameters<typeof tempDir>[0], source: AssetSource, capBytes: number, dir = tempDir(t, "asset-cache-")): AssetCache {
  return new AssetCache({ dir, capBytes, source, log: testLog(), resumeDelayMs: 1 });
}

test("a missing asset is fetched, verified and installed; the second request is a hit", async (t) => {
  const source = new MemorySource();
  const bytes = randomBytes(12_345);
  const ref = source.add(bytes);
  const cache = cacheWith(t, source, 1e6);
  const path = await cache.ensure(ref);
  assert.deepEqual(readFileSync(path), bytes);
  assert.equal(await cache.ensure(ref), path);
  assert.equal(source.calls.length, 1);
  assert.deepEqual(cache.hashes(), [ref.sha256]);
});

test("concurrent requests for one hash make one transfer", async (t) => {
  const source = new MemorySource();
  let open!: () => void;
  source.gate = new Promise((r) => (open = r));
  const ref = source.add(randomBytes(50_000));
  const cache = cacheWith(t, source, 1e6);
  const all = Promise.all([cache.ensure(ref), cache.ensure(ref), cache.ensure(ref)]);
  open();
  const paths = await all;
  assert.equal(new Set(paths).size, 1);
  assert.equal(source.calls.length, 1);
});

test("a cut transfer resumes from the partial file's length", async (t) => {
  const source = new MemorySource();
  const bytes = randomBytes(30_000);
  const ref = source.add(bytes);
  source.cutAfter = 12_000;
  const cache = cacheWith(t, source, 1e6);
  const path = await cache.ensure(ref);
  assert.deepEqual(readFileSync(path), bytes);
  assert.deepEqual(source.calls.map((c) => c.offset), [0, 12_000]);
});

test("a transfer cut while its parts are still being written leaves the exact prefix it received, and the next run resumes from it", async (t) => {
  const source = new MemorySource();
  const bytes = randomBytes(300_000);
  const ref = source.add(bytes);
  const dir = tempDir(t, "asset-cache-");
  // The parts arrive faster than the disk takes them: several are queued behind the write in flight when the cut comes.
  source.cutAfter = 250_000;
  const first = new AssetCache({ dir, capBytes: 1e6, source, log: testLog(), maxResumes: 0 });
  await assert.rejects(first.ensure(ref), /connection reset/);
  const partial = readFileSync(join(dir, "partial", ref.sha256));
  assert.equal(partial.length, 250_000, "every part received before the cut is on disk, none beyond it");
  assert.deepEqual(partial, bytes.subarray(0, 250_000));
  const second = cacheWith(t, source, 1e6, dir);
  assert.deepEqual(readFileSync(await second.ensure(ref)), bytes);
  assert.deepEqual(source.calls.map((c) => c.offset), [0, 250_000]);
});

test("a partial file left by an earlier run is resumed, not fetched again", async (t) => {
  const source = new MemorySource();
  const bytes = randomBytes(20_000);
  const ref = source.add(bytes);
  const dir = tempDir(t, "asset-cache-");
  mkdirSync(join(dir, "partial"), { recursive: true });
  writeFileSync(join(dir, "partial", ref.sha256), bytes.subarray(0, 7000));
  const cache = cacheWith(t, source, 1e6, dir);
  assert.deepEqual(readFileSync(await cache.ensure(ref)), bytes);
  assert.deepEqual(source.calls.map((c) => c.offset), [7000]);
});

test("bytes that do not hash to the name are refused and nothing is installed", async (t) => {
  const source = new MemorySource();
  const ref = source.add(randomBytes(5000));
  source.corrupt = true;
  const dir = tempDir(t, "asset-cache-");
  const cache = cacheWith(t, source, 1e6, dir);
  await assert.rejects(cache.ensure(ref), AssetMismatchError);
  assert.equal(cache.has(ref), false);
  assert.deepEqual(readdirSync(join(dir, "partial")), []);
  // The next request starts over (and, with a healthy source, succeeds).
  source.corrupt = false;
  await cache.ensure(ref);
  assert.ok(cache.has(ref));
});

test("an asset the source does not have fails at once, without retries", async (t) => {
  const source = new MemorySource();
  const cache = cacheWith(t, source, 1e6);
  await assert.rejects(cache.ensure(refOf(Buffer.from("nowhere"))), AssetUnavailableError);
  assert.equal(source.calls.length, 1);
});

test("least recently used assets go first, never a pinned one", async (t) => {
  const source = new MemorySource();
  const [a, b, c, d] = [1, 2, 3, 4].map(() => source.add(randomBytes(400))) as [AssetRef, AssetRef, AssetRef, AssetRef];
  const cache = cacheWith(t, source, 1000);
  const pathA = await cache.ensure(a);
  await cache.ensure(b);
  // a is pinned (a claimed chunk needs it): fetching c must evict b, the older unpinned one... after a is used again.
  const release = cache.pin(a.sha256);
  await cache.ensure(a);
  await cache.ensure(c);
  assert.ok(cache.has(a) && cache.has(c) && !cache.has(b));
  assert.ok(existsSync(pathA));
  // With a and c pinned, d cannot fit: refused, and nothing pinned was touched.
  const releaseC = cache.pin(c.sha256);
  await assert.rejects(cache.ensure(d), CacheFullError);
  assert.ok(cache.has(a) && cache.has(c));
  // Released, the least recently used (a, used before c) goes.
  release();
  releaseC();
  await cache.ensure(d);
  assert.ok(!cache.has(a) && cache.has(c) && cache.has(d));
  assert.ok(cache.bytes() <= 1000);
});

test("an asset larger than the cap is refused", async (t) => {
  const source = new MemorySource();
  const ref = source.add(randomBytes(2000));
  await assert.rejects(cacheWith(t, source, 1000).ensure(ref), CacheFullError);
});

test("a restarted cache knows what it holds", async (t) => {
  const source = new MemorySource();
  const ref = source.add(randomBytes(3000));
  const dir = tempDir(t, "asset-cache-");
  await cacheWith(t, source, 1e6, dir).ensure(ref);
  const again = cacheWith(t, source, 1e6, dir);
  assert.ok(again.has(ref));
  await again.ensure(ref);
  assert.equal(source.calls.length, 1);
});
