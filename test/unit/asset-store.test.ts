import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AssetNotFoundError, AssetStore } from "../../coordinator/assets/asset-store.ts";
import { AssetMismatchError } from "../../shared/assets/asset-ref.ts";
import { BadInputError } from "../../shared/errors.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

async function* parts(bytes: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(b);
  return Buffer.concat(out);
}

test("an asset is stored under its sha256 and read back whole or from an offset", async (t) => {
  const store = new AssetStore(tempDir(t, "asset-store-"));
  const bytes = randomBytes(300_000);
  const ref = await store.put(parts(bytes, 7000));
  assert.deepEqual(ref, { sha256: sha(bytes), size: bytes.length });
  assert.ok(store.has(ref));
  assert.deepEqual(store.list(), [ref]);
  assert.deepEqual(await readAll(store.read(ref, 0, 65536)), bytes);
  assert.deepEqual(await readAll(store.read(ref, 123_456)), bytes.subarray(123_456));
  assert.equal((await readAll(store.read(ref, bytes.length))).length, 0);
  // Putting the same bytes twice keeps one copy.
  assert.deepEqual(await store.put(parts(bytes, 99_999)), ref);
  assert.equal(store.list().length, 1);
});

test("a wrong size, an unknown hash or an offset past the end is not found", async (t) => {
  const store = new AssetStore(tempDir(t, "asset-store-"));
  const ref = await store.put(parts(Buffer.from("hello"), 2));
  assert.throws(() => store.read({ sha256: ref.sha256, size: 6 }, 0), AssetNotFoundError);
  assert.throws(() => store.read({ sha256: "0".repeat(64), size: 5 }, 0), AssetNotFoundError);
  assert.throws(() => store.read(ref, 6), AssetNotFoundError);
  assert.throws(() => store.read(ref, -1), AssetNotFoundError);
});

test("an upload whose bytes are not the announced ones is refused and leaves nothing behind", async (t) => {
  const root = tempDir(t, "asset-store-");
  const store = new AssetStore(root);
  const bytes = randomBytes(5000);
  await assert.rejects(store.put(parts(bytes, 1000), { sha256: sha(Buffer.from("other")) }), AssetMismatchError);
  await assert.rejects(store.put(parts(bytes, 1000), { size: 4999 }), AssetMismatchError);
  assert.deepEqual(store.list(), []);
  assert.deepEqual(readdirSync(join(root, "incoming")), []);
});

test("hostile names never become paths: only 64 hex digits are accepted", async (t) => {
  const store = new AssetStore(tempDir(t, "asset-store-"));
  for (const name of ["../../etc/passwd", "/etc/passwd", "AB".repeat(32), "a".repeat(63), `${"a".repeat(62)}/.`]) {
    assert.throws(() => store.stat(name), BadInputError, name);
    await assert.rejects(store.remove(name), BadInputError, name);
  }
});
