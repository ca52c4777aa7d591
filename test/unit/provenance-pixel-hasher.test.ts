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
