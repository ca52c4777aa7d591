import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { generateFrame, hash32 } from "../../shared/media/generated-frames.ts";

const digest = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

test("generated frames are deterministic", () => {
  for (const index of [0, 5, 47]) {
    assert.equal(digest(generateFrame(index, 64, 36, 3).data), digest(generateFrame(index, 64, 36, 3).data));
  }
});

test("generated frames differ per index and per seed", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) seen.add(digest(generateFrame(i, 64, 36, 0).data));
  assert.equal(seen.size, 12);
  assert.notEqual(digest(generateFrame(0, 64, 36, 0).data), digest(generateFrame(0, 64, 36, 1).data));
});

test("generated frames have the requested size and are not flat", () => {
  const frame = generateFrame(2, 65, 37, 0);
  assert.equal(frame.width, 65);
  assert.equal(frame.height, 37);
  assert.equal(frame.data.length, 65 * 37 * 3);
  assert.ok(new Set(frame.data).size > 50);
});

test("generated frames are pinned: same pixels on every machine", () => {
  // Integer maths only, so this digest must never change unless the pattern does.
  assert.equal(hash32(0), 1144304738);
  assert.equal(digest(generateFrame(9, 32, 18, 5).data), PINNED_9_32x18_5);
});

test("bad sizes and indices are refused", () => {
  assert.throws(() => generateFrame(-1, 8, 8), RangeError);
  assert.throws(() => generateFrame(0, 0, 8), RangeError);
  assert.throws(() => generateFrame(1.5, 8, 8), RangeError);
});

const PINNED_9_32x18_5 = "ccd7b9fe603522da9b9756642fd7ff822687b601744b8565d474d3f41e529574";
