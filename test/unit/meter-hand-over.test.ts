import assert from "node:assert/strict";
import { test } from "node:test";
import { createChunkMeter } from "../../agent/probe/chunk-meter.ts";
import { MeterHandOver } from "../../agent/probe/meter-hand-over.ts";
import type { PowerReading, PowerSource } from "../../agent/probe/power-source-types.ts";

/**
 * Two chunk meters of one agent that run at once (the next chunk starts
 * while this one's last frame is uploaded, agent/work/chunk-runner.ts) count
 * each moment's energy in exactly one chunk (agent/probe/meter-hand-over.ts):
 * the chunks' energies add up to the energy over the whole run, with an
 * energy counter and with power readings alone. A fake clock and a fake
 * power source: watts rise linearly with time (so the trapezoid rule over
 * readings at the segment edges is exact) and the counter is their integral.
 */

/** Watts at t ms: 100 W rising by 1 W a second. */
const watts = (tMs: number): number => 100 + tMs / 1000;
/** Joules from 0 to t ms. */
const joules = (tMs: number): number => (100 * tMs) / 1000 + (tMs / 1000) ** 2 / 2;

function fakeSource(clock: { t: number }, withCounter: boolean, failAt: ReadonlySet<number> = new Set()): PowerSource {
  return {
    kind: withCounter ? "nvml" : "nvidia-smi",
    description: "fake",
    async read(): Promise<PowerReading> {
      const t = clock.t;
      if (failAt.has(t)) throw new Error(`no reading at ${t} ms`);
      // Counter in millijoules, as NVML's.
      const counters = withCounter ? [{ id: "gpu0", value: Math.round(joules(t) * 1000), maxRange: null, joulesPerUnit: 1e-3 }] : null;
      return { tMs: t, watts: watts(t), counters, vramBytes: null };
    },
    async close() {},
  };
}

const noRam = async () => ({ sample: () => undefined, peak: async () => 1 });

/** Runs the script of starts and stops on one agent's meters; returns each chunk's energy and idle energy. */
async function run(withCounter: boolean, script: ReadonlyArray<[number, "start" | "stop", "a" | "b"]>, failAt?: ReadonlySet<number>) {
  const clock = { t: 0 };
  const handOver = new MeterHandOver();
  const source = fakeSource(clock, withCounter, failAt);
  const make = () => createChunkMeter({ source, intervalMs: 3_600_000, idleWatts: 10, now: () => clock.t, ramTracker: noRam, handOver });
  const meters = { a: make(), b: make() };
  const out: Record<string, { energy: number; idle: number; wall: number }> = {};
  for (const [t, what, which] of script) {
    clock.t = t;
    if (what === "start") {
      await meters[which].start();
      // Let start's background reading finish at this instant (the clock does not move meanwhile).
      for (let i = 0; i < 20; i++) await Promise.resolve();
    } else {
      const acc = await meters[which].stop();
      out[which] = { energy: acc.energyJoules, idle: acc.idleEnergyJoules, wall: acc.wallSeconds };
    }
  }
  return out;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-6;

for (const withCounter of [true, false]) {
  const how = withCounter ? "energy counter" : "power readings";

  test(`${how}: the later chunk starts while the earlier one uploads; their energies add up to the run's`, async () => {
    // a runs 0-10 s; b starts at 8 s (a's device done), a's upload ends at 9 s, b ends at 20 s.
    const got = await run(withCounter, [[0, "start", "a"], [8000, "start", "b"], [9000, "stop", "a"], [20_000, "stop", "b"]]);
    assert.ok(close(got.a!.energy + got.b!.energy, joules(20_000)), `${got.a!.energy} + ${got.b!.energy} vs ${joules(20_000)}`);
    assert.ok(close(got.a!.energy, joules(8000)), "a counts until b's first reading");
    // Idle baseline over the counted time only: 10 W x 20 s in all; wall stays each chunk's own.
    assert.ok(close(got.a!.idle + got.b!.idle, 10 * 20));
    assert.equal(got.a!.wall, 9);
    assert.equal(got.b!.wall, 12);
  });

  test(`${how}: when the later chunk ends first, the earlier one counts again from there`, async () => {
    const got = await run(withCounter, [[0, "start", "a"], [8000, "start", "b"], [12_000, "stop", "b"], [15_000, "stop", "a"]]);
    assert.ok(close(got.a!.energy + got.b!.energy, joules(15_000)), `${got.a!.energy} + ${got.b!.energy} vs ${joules(15_000)}`);
    assert.ok(close(got.b!.energy, joules(12_000) - joules(8000)));
    assert.ok(close(got.a!.idle + got.b!.idle, 10 * 15));
  });

  test(`${how}: the later chunk's first reading fails, the earlier one counts on until the later one's first good reading`, async () => {
    // b's first reading (8 s) fails; a stops at 9 s while b still waits: b counts from a's last reading.
    const got = await run(withCounter, [[0, "start", "a"], [8000, "start", "b"], [9000, "stop", "a"], [20_000, "stop", "b"]], new Set([8000]));
    assert.ok(close(got.a!.energy, joules(9000)), `a ${got.a!.energy} vs ${joules(9000)}`);
    assert.ok(close(got.a!.energy + got.b!.energy, joules(20_000)), `${got.a!.energy} + ${got.b!.energy} vs ${joules(20_000)}`);
    assert.ok(close(got.a!.idle + got.b!.idle, 10 * 20));
    // b's first good reading is its last (12 s): a counts until then, b's stretch is empty, a counts again to 15 s.
    const late = await run(withCounter, [[0, "start", "a"], [8000, "start", "b"], [12_000, "stop", "b"], [15_000, "stop", "a"]], new Set([8000]));
    assert.ok(close(late.a!.energy + late.b!.energy, joules(15_000)), `${late.a!.energy} + ${late.b!.energy} vs ${joules(15_000)}`);
    assert.ok(close(late.b!.energy, 0));
  });

  test(`${how}: chunks one after the other are measured as before`, async () => {
    const got = await run(withCounter, [[0, "start", "a"], [5000, "stop", "a"], [6000, "start", "b"], [9000, "stop", "b"]]);
    assert.ok(close(got.a!.energy, joules(5000)));
    assert.ok(close(got.b!.energy, joules(9000) - joules(6000)));
  });
}

test("without a hand-over, overlapping meters each count their whole wall (the behaviour the hand-over fixes)", async () => {
  const clock = { t: 0 };
  const source = fakeSource(clock, true);
  const make = () => createChunkMeter({ source, intervalMs: 3_600_000, now: () => clock.t, ramTracker: noRam });
  const a = make();
  const b = make();
  await a.start();
  for (let i = 0; i < 20; i++) await Promise.resolve();
  clock.t = 8000;
  await b.start();
  for (let i = 0; i < 20; i++) await Promise.resolve();
  clock.t = 9000;
  const ea = (await a.stop()).energyJoules;
  clock.t = 20_000;
  const eb = (await b.stop()).energyJoules;
  assert.ok(ea + eb > joules(20_000) + 1, "the interval 8-9 s counted twice");
});
