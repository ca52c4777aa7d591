import { test } from "node:test";
import assert from "node:assert/strict";
import {
  idleEnergyJoules,
  idleWattsFromReadings,
  splitIdle,
} from "../../shared/accounting/idle-baseline.ts";

test("idle energy is baseline watts times wall seconds", () => {
  // 60 W x 30 s = 1800 J.
  assert.equal(idleEnergyJoules(60, 30), 1800);
  assert.equal(idleEnergyJoules(null, 30), 0);
  assert.equal(idleEnergyJoules(-10, 30), 0);
  assert.equal(idleEnergyJoules(60, Number.NaN), 0);
});

test("split reports idle separately and above-idle never negative", () => {
  // 5000 J measured, 60 W x 30 s = 1800 J idle -> 3200 J above idle.
  assert.deepEqual(splitIdle(5000, 60, 30), { totalJoules: 5000, idleJoules: 1800, aboveIdleJoules: 3200 });
  // Baseline larger than the measurement (a cool node, a high guess): above idle is 0, idle still reported.
  assert.deepEqual(splitIdle(1000, 60, 30), { totalJoules: 1000, idleJoules: 1800, aboveIdleJoules: 0 });
});

test("measured baseline is the median of idle readings", () => {
  // Sorted: 60, 61, 62, 200 -> median (61+62)/2 = 61.5; the 200 W spike does not move it far.
  assert.equal(idleWattsFromReadings([62, 200, 60, 61]), 61.5);
  assert.equal(idleWattsFromReadings([70, 65, 90]), 70);
  assert.equal(idleWattsFromReadings([Number.NaN]), null);
});
