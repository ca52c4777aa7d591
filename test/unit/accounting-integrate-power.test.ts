import { test } from "node:test";
import assert from "node:assert/strict";
import {
  integratePower,
  meanPower,
  normalizePowerSamples,
} from "../../shared/accounting/integrate-power.ts";

const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

test("trapezoid over three samples", () => {
  // (0 s, 100 W), (1 s, 200 W), (3 s, 100 W)
  // [0,1]: (100+200)/2 * 1 = 150 J; [1,3]: (200+100)/2 * 2 = 300 J; total 450 J.
  const j = integratePower([
    { tMs: 0, watts: 100 },
    { tMs: 1000, watts: 200 },
    { tMs: 3000, watts: 100 },
  ]);
  close(j, 450);
});

test("unsorted input gives the same answer as sorted", () => {
  const j = integratePower([
    { tMs: 3000, watts: 100 },
    { tMs: 0, watts: 100 },
    { tMs: 1000, watts: 200 },
  ]);
  close(j, 450);
});

test("duplicate timestamps merge into their mean", () => {
  // t=1 s has 150 W and 250 W -> 200 W; same series as above: 450 J.
  const samples = [
    { tMs: 0, watts: 100 },
    { tMs: 1000, watts: 150 },
    { tMs: 1000, watts: 250 },
    { tMs: 3000, watts: 100 },
  ];
  assert.deepEqual(normalizePowerSamples(samples), [
    { tMs: 0, watts: 100 },
    { tMs: 1000, watts: 200 },
    { tMs: 3000, watts: 100 },
  ]);
  close(integratePower(samples), 450);
});

test("invalid samples are dropped, not counted as zero", () => {
  // Only (0,100) and (2000,100) remain: 100 W * 2 s = 200 J.
  const j = integratePower([
    { tMs: 0, watts: 100 },
    { tMs: 1000, watts: Number.NaN },
    { tMs: 1500, watts: -5 },
    { tMs: 2000, watts: 100 },
  ]);
  close(j, 200);
});

test("window cuts the edges by interpolation", () => {
  // Series (0,0 W) -> (4 s, 400 W): linear, w(t) = 100 t.
  // Window [1 s, 3 s]: w(1)=100, w(3)=300 -> (100+300)/2 * 2 = 400 J.
  const s = [
    { tMs: 0, watts: 0 },
    { tMs: 4000, watts: 400 },
  ];
  close(integratePower(s, { startMs: 1000, endMs: 3000 }), 400);
  // Window [1 s, 2.5 s] across a middle sample at 2 s (200 W):
  // [1,2]: (100+200)/2*1 = 150; [2,2.5]: (200+250)/2*0.5 = 112.5; total 262.5 J.
  const s3 = [
    { tMs: 0, watts: 0 },
    { tMs: 2000, watts: 200 },
    { tMs: 4000, watts: 400 },
  ];
  close(integratePower(s3, { startMs: 1000, endMs: 2500 }), 262.5);
});

test("window beyond the samples is not extrapolated", () => {
  // Samples cover [1 s, 2 s] at 50 W; window [0, 10 s] -> only 50 J.
  const s = [
    { tMs: 1000, watts: 50 },
    { tMs: 2000, watts: 50 },
  ];
  close(integratePower(s, { startMs: 0, endMs: 10_000 }), 50);
  assert.equal(integratePower(s, { startMs: 5000, endMs: 6000 }), 0);
});

test("fewer than two samples give 0 J and no mean", () => {
  assert.equal(integratePower([]), 0);
  assert.equal(integratePower([{ tMs: 0, watts: 300 }]), 0);
  assert.equal(meanPower([{ tMs: 0, watts: 300 }]), null);
});

test("mean power is joules over covered seconds", () => {
  // 450 J over 3 s = 150 W.
  const m = meanPower([
    { tMs: 0, watts: 100 },
    { tMs: 1000, watts: 200 },
    { tMs: 3000, watts: 100 },
  ]);
  close(m ?? NaN, 150);
});
