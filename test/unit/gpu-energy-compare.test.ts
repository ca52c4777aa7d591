import { test } from "node:test";
import assert from "node:assert/strict";
import { compareEnergy, counterAt } from "../../bench/energy-compare.ts";

// A reference counter at 300 W, sampled every 20 ms from t = 1000 ms (joules = 300 x seconds).
const reference = Array.from({ length: 501 }, (_, i) => ({ tMs: 1000 + i * 20, joules: 300 * ((i * 20) / 1000) }));

test("the reference counter is interpolated between samples", () => {
  assert.equal(counterAt(reference, 1000), 0);
  assert.ok(Math.abs(counterAt(reference, 1010)! - 3) < 1e-9, "10 ms at 300 W between two samples");
  assert.equal(counterAt(reference, 999), null);
  assert.equal(counterAt(reference, 11_001), null);
});

test("agent chunk energy against the counter over the same intervals: total and worst chunk error", () => {
  const cmp = compareEnergy(reference, [
    { startMs: 2000, endMs: 4000, joules: 600 }, // exact
    { startMs: 5000, endMs: 7000, joules: 612 }, // +2 %
    { startMs: 10_500, endMs: 12_000, joules: 1 }, // past the reference: skipped
  ]);
  assert.equal(cmp.chunks, 2);
  assert.equal(cmp.skipped, 1);
  assert.ok(Math.abs(cmp.referenceJoules - 1200) < 1e-9);
  assert.ok(Math.abs(cmp.errorPercent - 1) < 1e-9, "12 J over 1200 J");
  assert.ok(Math.abs(cmp.maxChunkErrorPercent - 2) < 1e-9);
});

test("overlapping chunks are compared as one group: the shared time counted once, as the meter hand-over counts it", () => {
  // Two chunks overlap from 3000 to 4000 ms. With the hand-over, the first
  // stops counting at 3000 (300 J over 2000-3000) and the second counts
  // 3000-5000 (600 J): the sum equals the counter over 2000-5000.
  const cmp = compareEnergy(reference, [
    { startMs: 3000, endMs: 5000, joules: 600 },
    { startMs: 2000, endMs: 4000, joules: 300 },
    { startMs: 6000, endMs: 7000, joules: 330 }, // alone, +10 %
  ]);
  assert.equal(cmp.chunks, 3);
  assert.equal(cmp.groups, 2);
  assert.ok(Math.abs(cmp.referenceJoules - 1200) < 1e-9, "the union of 2000-5000 and 6000-7000 at 300 W");
  assert.ok(Math.abs(cmp.agentJoules - 1230) < 1e-9);
  assert.ok(Math.abs(cmp.maxChunkErrorPercent - 10) < 1e-9, "the lone chunk's error; the pair is exact");
  // Compared chunk by chunk, the pair would show -50 % on the first chunk and
  // the total would be measured against 1500 J of counter.
});
