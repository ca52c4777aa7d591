import { test } from "node:test";
import assert from "node:assert/strict";
import { percentile, planFaults, recoverySummary, seededRandom } from "../faults/fault-schedule.ts";

test("the fault plan is a pure function of its seed", () => {
  const o = { seed: 42, faults: 8, agents: 3, windowSeconds: 20, kinds: ["kill-agent", "cut-link", "kill-coordinator"] as const, minGapSeconds: 2 };
  const a = planFaults(o);
  assert.deepEqual(planFaults(o), a);
  assert.notDeepEqual(planFaults({ ...o, seed: 43 }), a);
  assert.equal(a.length, 8);
  for (let i = 1; i < a.length; i++) assert.ok((a[i]?.atSeconds ?? 0) > (a[i - 1]?.atSeconds ?? 0), "increasing times");
  assert.ok(a.every((f) => f.agent >= 0 && f.agent < 3 && f.restoreAfterSeconds >= 1 && f.restoreAfterSeconds <= 5));
  assert.deepEqual(planFaults({ ...o, kinds: [] }), []);
});

test("seededRandom stays in [0,1) and percentile uses nearest rank", () => {
  const r = seededRandom(1);
  for (let i = 0; i < 1000; i++) {
    const v = r();
    assert.ok(v >= 0 && v < 1);
  }
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([5, 1, 3, 2, 4], 99), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test("the summary's recovery part: percentiles of the times, or 'no recovery measured' when there are none (never NaN)", () => {
  assert.equal(recoverySummary([]), "no recovery measured");
  assert.equal(recoverySummary([2.5, 4.24, 1]), "recovery p50 2.5s p99 4.2s");
  assert.doesNotMatch(recoverySummary([]), /NaN/);
});
