import { test } from "node:test";
import assert from "node:assert/strict";
import {
  maxSafeReadIntervalMs,
  monotonicCounterDelta,
  wrappingCounterDelta,
} from "../../shared/accounting/counter-delta.ts";

// A real package range (Intel, 15.3 uJ units x 2^32): 262143328850 uJ.
const RANGE = 262_143_328_850;

test("RAPL counter without wrap", () => {
  // 1 000 000 -> 6 000 000 uJ: 5 000 000 uJ.
  assert.equal(wrappingCounterDelta(1_000_000, 6_000_000, RANGE), 5_000_000);
});

test("RAPL counter wrapping once", () => {
  // prev = RANGE - 2 000 000, next = 3 000 000:
  // (RANGE - prev) + next = 2 000 000 + 3 000 000 = 5 000 000 uJ.
  assert.equal(wrappingCounterDelta(RANGE - 2_000_000, 3_000_000, RANGE), 5_000_000);
});

test("RAPL unchanged counter is zero", () => {
  assert.equal(wrappingCounterDelta(42, 42, RANGE), 0);
});

test("two wraps are indistinguishable from one (documented limit)", () => {
  // True energy: 1 full range + 5 000 000 uJ, but the readings are the same as for one wrap.
  const seen = wrappingCounterDelta(RANGE - 2_000_000, 3_000_000, RANGE);
  assert.equal(seen, 5_000_000);
  assert.notEqual(seen, RANGE + 5_000_000);
});

test("readings outside the range are refused", () => {
  assert.throws(() => wrappingCounterDelta(-1, 5, RANGE), RangeError);
  assert.throws(() => wrappingCounterDelta(0, RANGE + 1, RANGE), RangeError);
  assert.throws(() => wrappingCounterDelta(0, 1, 0), RangeError);
});

test("NVML mJ counter: difference, bigint, and reset", () => {
  // 123 456 789 -> 123 556 789 mJ: 100 000 mJ = 100 J.
  assert.equal(monotonicCounterDelta(123_456_789, 123_556_789), 100_000);
  // Above 2^53, koffi hands back bigint: 2^60 -> 2^60 + 7.
  assert.equal(monotonicCounterDelta(2n ** 60n, 2n ** 60n + 7n), 7);
  assert.equal(monotonicCounterDelta(2n ** 60n, 5), null);
  // Driver reload: counter restarts -> unknown.
  assert.equal(monotonicCounterDelta(5_000, 10), null);
});

test("safe read interval for a RAPL range", () => {
  // 262 143.32885 J / 200 W = 1310.716644 s.
  const ms = maxSafeReadIntervalMs(RANGE, 200);
  assert.ok(Math.abs(ms - 1_310_716.64425) < 1e-3, String(ms));
});
