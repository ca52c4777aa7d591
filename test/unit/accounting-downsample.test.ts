import { test } from "node:test";
import assert from "node:assert/strict";
import { downsample, mergeBuckets } from "../../shared/accounting/downsample.ts";

const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

test("buckets hold min/mean/max, energy and peak memory", () => {
  // 10 s buckets. Samples: t=0 100 W 1 GB, t=5 s 200 W 2 GB, t=10 s 300 W 1 GB, t=20 s 300 W null mem.
  // Bucket [0,10): samples 0 and 5 s -> min 100, mean 150, max 200, max mem 2 GB.
  //   energy: [0,5] (100+200)/2*5 = 750 J; [5,10] (200+300)/2*5 = 1250 J -> 2000 J.
  // Bucket [10,20): sample 10 s -> 300 W; energy [10,20] 300 W x 10 s = 3000 J.
  // Bucket [20,30): sample 20 s; no later sample, so 0 J.
  const GB = 1e9;
  const b = downsample(
    [
      { tMs: 5000, watts: 200, memoryBytes: 2 * GB },
      { tMs: 0, watts: 100, memoryBytes: GB },
      { tMs: 10_000, watts: 300, memoryBytes: GB },
      { tMs: 20_000, watts: 300, memoryBytes: null },
    ],
    { bucketMs: 10_000 },
  );
  assert.equal(b.length, 3);
  const [b0, b1, b2] = b;
  assert.deepEqual(
    { start: b0?.startMs, n: b0?.samples, min: b0?.minWatts, mean: b0?.meanWatts, max: b0?.maxWatts, mem: b0?.maxMemoryBytes },
    { start: 0, n: 2, min: 100, mean: 150, max: 200, mem: 2 * GB },
  );
  close(b0?.energyJoules ?? NaN, 2000);
  close(b1?.energyJoules ?? NaN, 3000);
  assert.equal(b2?.energyJoules, 0);
  assert.equal(b2?.maxMemoryBytes, null);
});

test("an interval crossing a bucket edge is cut by interpolation", () => {
  // (5 s, 0 W) -> (15 s, 100 W), 10 s buckets; w(10 s) = 50 W.
  // [5,10]: (0+50)/2*5 = 125 J; [10,15]: (50+100)/2*5 = 375 J; sum 500 J = whole trapezoid (0+100)/2*10.
  const b = downsample(
    [
      { tMs: 5000, watts: 0, memoryBytes: null },
      { tMs: 15_000, watts: 100, memoryBytes: null },
    ],
    { bucketMs: 10_000 },
  );
  close(b[0]?.energyJoules ?? NaN, 125);
  close(b[1]?.energyJoules ?? NaN, 375);
});

test("gaps longer than maxGapMs are not bridged", () => {
  // Two samples 1 h apart with 1 min buckets and the default gap (one bucket): no energy invented.
  const b = downsample(
    [
      { tMs: 0, watts: 200, memoryBytes: null },
      { tMs: 3_600_000, watts: 200, memoryBytes: null },
    ],
    { bucketMs: 60_000 },
  );
  assert.equal(b.length, 2);
  assert.equal(b[0]?.energyJoules, 0);
  // Allowing the gap: 200 W x 3600 s = 720 000 J spread over 60 buckets of 12 000 J.
  const bridged = downsample(
    [
      { tMs: 0, watts: 200, memoryBytes: null },
      { tMs: 3_600_000, watts: 200, memoryBytes: null },
    ],
    { bucketMs: 60_000, maxGapMs: 3_600_000 },
  );
  assert.equal(bridged.length, 61);
  close(bridged.reduce((s, x) => s + x.energyJoules, 0), 720_000, 1e-6);
  close(bridged[30]?.energyJoules ?? NaN, 12_000, 1e-9);
});

test("null power readings count as samples but not as watts", () => {
  const b = downsample(
    [
      { tMs: 0, watts: null, memoryBytes: 5 },
      { tMs: 1000, watts: 80, memoryBytes: 3 },
    ],
    { bucketMs: 10_000 },
  );
  assert.equal(b[0]?.samples, 2);
  assert.equal(b[0]?.meanWatts, 80);
  assert.equal(b[0]?.maxMemoryBytes, 5);
});

test("merging minute buckets into hours keeps sums and extremes", () => {
  // Two 1-min buckets in hour 0: (2 samples, mean 100, 10 J), (6 samples, mean 200, 30 J).
  // Merged mean weighted by samples: (2*100 + 6*200)/8 = 175; energy 40 J; min/max over both.
  const merged = mergeBuckets(
    [
      { startMs: 0, bucketMs: 60_000, samples: 2, minWatts: 90, meanWatts: 100, maxWatts: 110, energyJoules: 10, maxMemoryBytes: 7 },
      { startMs: 60_000, bucketMs: 60_000, samples: 6, minWatts: 150, meanWatts: 200, maxWatts: 250, energyJoules: 30, maxMemoryBytes: null },
      { startMs: 3_600_000, bucketMs: 60_000, samples: 1, minWatts: 5, meanWatts: 5, maxWatts: 5, energyJoules: 1, maxMemoryBytes: 1 },
    ],
    3_600_000,
  );
  assert.equal(merged.length, 2);
  assert.deepEqual(merged[0], {
    startMs: 0,
    bucketMs: 3_600_000,
    samples: 8,
    minWatts: 90,
    meanWatts: 175,
    maxWatts: 250,
    energyJoules: 40,
    maxMemoryBytes: 7,
  });
  assert.throws(() => mergeBuckets(merged, 90_000), RangeError);
});
