import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentTelemetry } from "../../agent/telemetry/agent-telemetry.ts";
import { energyStep } from "../../agent/telemetry/energy-step.ts";
import { IdleBaselineTracker } from "../../agent/telemetry/idle-baseline-tracker.ts";
import type { PowerReading, PowerSource } from "../../agent/probe/power-source-types.ts";
import { TelemetrySampleSchema } from "../../shared/protocol/telemetry-message.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { testLog } from "../helpers/test-log.ts";

const RAPL_RANGE = 262_143_328_850; // uJ, a real package max_energy_range_uj
const rapl = (tMs: number, uj: number, watts: number | null = null): PowerReading => ({
  tMs, watts, vramBytes: null, counters: [{ id: "rapl:intel-rapl:0", value: uj, maxRange: RAPL_RANGE, joulesPerUnit: 1e-6 }],
});
const nvml = (tMs: number, mj: number, watts: number): PowerReading => ({
  tMs, watts, vramBytes: 0, counters: [{ id: "nvml:GPU-1", value: mj, maxRange: null, joulesPerUnit: 1e-3 }],
});

test("energy between readings: counter difference, RAPL wrap, NVML reload falls back to the power trapezoid", () => {
  assert.deepEqual(energyStep(null, rapl(0, 5)), { joules: 0, method: "none" });
  assert.deepEqual(energyStep(rapl(0, 1_000_000), rapl(1000, 151_000_000)), { joules: 150, method: "counter" });
  // Wrapped: (range - prev) + next = 1e6 + 2e6 uJ = 3 J.
  const wrapped = energyStep(rapl(0, RAPL_RANGE - 1_000_000), rapl(1000, 2_000_000));
  assert.equal(wrapped.method, "counter");
  assert.ok(Math.abs(wrapped.joules - 3) < 1e-9);
  // NVML counter went backwards (driver reload): trapezoid of 200 W and 300 W over 2 s = 500 J.
  assert.deepEqual(energyStep(nvml(0, 9_000_000, 200), nvml(2000, 10, 300)), { joules: 500, method: "integrated" });
  assert.deepEqual(energyStep(rapl(0, 1, null), { tMs: 1000, watts: null, counters: null, vramBytes: null }), { joules: 0, method: "none" });
});

test("idle baseline: configured wins; measured is the median of quiet readings, skipping the settle time after work", () => {
  assert.equal(new IdleBaselineTracker({ configuredWatts: 55 }).current(), 55);
  const t = new IdleBaselineTracker({ configuredWatts: null, minReadings: 3, settleMs: 5000 });
  t.add(0, 300, false); // a chunk runs
  t.add(2000, 120, true); // still settling after the chunk: ignored
  assert.equal(t.current(), null);
  t.add(6000, 40, true);
  t.add(7000, 44, true);
  assert.equal(t.basis, "unknown");
  t.add(8000, 90, true); // a cron job blip
  assert.equal(t.basis, "measured");
  assert.equal(t.current(), 44, "median of 40, 44, 90");
});

/** A power source scripted by the test: NVML readings with a per-process list. */
function scriptedSource(clock: () => number) {
  const state = { mj: 0, watts: 100, foreign: false };
  const source: PowerSource = {
    kind: "nvml",
    description: "scripted",
    async read(): Promise<PowerReading> {
      state.mj += state.watts * 1000; // mJ: 1 s at `watts` between reads in these tests
      return {
        tMs: clock(),
        watts: state.watts,
        counters: [{ id: "nvml:GPU-1", value: state.mj, maxRange: null, joulesPerUnit: 1e-3 }],
        vramBytes: 512 * 2 ** 20,
        utilisationPercent: 87,
        temperatureC: 64,
        powerLimitWatts: 450,
        gpuProcesses: [{ pid: 100, usedBytes: 512 * 2 ** 20, gpuUuid: "GPU-1" }, ...(state.foreign ? [{ pid: 999, usedBytes: 2 ** 30, gpuUuid: "GPU-1" }] : [])],
      };
    },
    async close(): Promise<void> {},
  };
  return { source, state };
}

test("samples carry power, counter energy, running totals and memory; someone else on the GPU pauses work", async () => {
  const clock = manualClock();
  const { source, state } = scriptedSource(clock.now);
  const tel = new AgentTelemetry({ source, ownPids: [100], gpuFreeMs: 2000, configuredIdleWatts: null, now: clock.now, rss: () => 1234, log: testLog() });
  const first = await tel.sample(false);
  assert.equal(first.energyMethod, "none");
  clock.advance(1000);
  state.watts = 250;
  const s = TelemetrySampleSchema.parse({ ...(await tel.sample(true)), agentId: "agt" });
  assert.equal(s.seq, 1);
  assert.equal(s.energyMethod, "counter");
  assert.ok(Math.abs(s.energyJoules - 250) < 1e-9, "1 s at 250 W from the counter");
  assert.equal(s.watts, 250);
  assert.equal(s.vramBytes, 512 * 2 ** 20);
  assert.equal(s.ramBytes, 1234);
  assert.equal(s.utilisationPercent, 87);
  assert.equal(s.temperatureC, 64);
  assert.equal(s.powerLimitWatts, 450);
  assert.equal(s.busy, true);
  assert.ok(tel.mayTakeWork());

  state.foreign = true;
  clock.advance(1000);
  const third = await tel.sample(true);
  assert.ok(Math.abs(third.energyTotalJoules - 500) < 1e-9, "running total of the counter steps");
  assert.equal(tel.mayTakeWork(), false);
  assert.match(tel.note(), /pid 999/);
  state.foreign = false;
  clock.advance(1000);
  await tel.sample(false);
  assert.equal(tel.mayTakeWork(), false, "free for 0 of 2 s");
  clock.advance(2000);
  assert.ok(tel.mayTakeWork());
});
