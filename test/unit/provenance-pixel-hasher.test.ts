import assert from "node:assert/strict";
import { test } from "node:test";
import { PixelHasher } from "../../coordinator/provenance/pixel-hasher.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import { testLog } from "../helpers/test-log.ts";
import { threadNames } from "../helpers/thread-names.ts";

test("the hash thread answers each frame with its own pixel hash, also when many are in flight; a bad PNG is an error for that frame only", async () => {
  const hasher = new PixelHasher(testLog());
  try {
    const pngs = Array.from({ length: 12 }, (_, i) => encodePng(generateFrame(i, 40 + i, 20, 5)));
    const bad = Buffer.from(pngs[0]!);
    bad.fill(0, bad.indexOf("IDAT") + 4, bad.indexOf("IDAT") + 20);
    const results = await Promise.allSettled([...pngs.map((p) => hasher.hash(p)), hasher.hash(bad)]);
    results.slice(0, 12).forEach((r, i) => assert.deepEqual(r.status === "fulfilled" ? r.value : r.reason, pixelsOf(pngs[i]!), `frame ${i}`));
    assert.equal(results[12]!.status, "rejected");
  } finally {
    await hasher.close();
  }
});

test("after close the hasher still answers, on the calling thread", async () => {
  const hasher = new PixelHasher(testLog());
  await hasher.close();
  const png = encodePng(generateFrame(3, 16, 9, 1));
  assert.deepEqual(await hasher.hash(png), pixelsOf(png));
});

test("the hash thread names itself ns-pixel-hash for the OS (top -H, /proc), where /proc exists", async (t) => {
  if (threadNames() === undefined) return t.skip("no /proc/thread-self: thread names are Linux only");
  const hasher = new PixelHasher(testLog());
  try {
    const png = encodePng(generateFrame(1, 16, 9, 1));
    assert.deepEqual(await hasher.hash(png), pixelsOf(png));
    const names = threadNames() ?? [];
    assert.ok(names.includes("ns-pixel-hash"), `threads: ${names.join(", ")}`);
  } finally {
    await hasher.close();
  }
});

test("start() runs the thread before any frame: it answers its own check frame, then hashes frames right", async (t) => {
  const hasher = new PixelHasher(testLog());
  try {
    assert.equal(await hasher.start(), true, "the thread answered the start's frame with its pixel hash");
    const names = threadNames();
    if (names !== undefined) assert.ok(names.includes("ns-pixel-hash"), `the thread runs before the first hash; threads: ${names.join(", ")}`);
    else t.diagnostic("no /proc/thread-self: the thread's presence is not checked by name");
    const pngs = [encodePng(generateFrame(5, 64, 36, 9)), encodePng(generateFrame(6, 17, 3, 2))];
    for (const png of pngs) assert.deepEqual(await hasher.hash(png), pixelsOf(png));
  } finally {
    await hasher.close();
  }
});

test("start() on a closed hasher says false and starts no thread; hashing still answers on the calling thread", async () => {
  const hasher = new PixelHasher(testLog());
  await hasher.close();
  assert.equal(await hasher.start(), false);
  assert.ok(!(threadNames() ?? []).includes("ns-pixel-hash"), "no hash thread runs");
  const png = encodePng(generateFrame(2, 8, 8, 3));
  assert.deepEqual(await hasher.hash(png), pixelsOf(png));
});
