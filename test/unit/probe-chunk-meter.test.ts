import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createChunkMeter } from "../../agent/probe/chunk-meter.ts";
import { createEstimateSource } from "../../agent/probe/estimate-source.ts";
import type { EnergyCounterReading, PowerReading, PowerSource } from "../../agent/probe/power-source-types.ts";
import { IllegalTransitionError } from "../../shared/errors.ts";

/** A source that replays scripted readings, then repeats the last one; counts reads. */
function scripted(script: readonly Omit<PowerReading, "tMs">[], now: () => number = Date.now): PowerSource & { reads: number } {
  const src = {
    kind: "rapl" as const,
    description: "scripted",
    reads: 0,
    async read(): Promise<PowerReading> {
      const step = script[Math.min(src.reads, script.length - 1)] as Omit<PowerReading, "tMs">;
      src.reads += 1;
      return { ...step, tMs: now() };
    },
    async close(): Promise<void> {},
  };
  return src;
}

const counter = (id: string, value: number, maxRange: number | null, joulesPerUnit: number): EnergyCounterReading => ({
  id,
  value,
  maxRange,
  joulesPerUnit,
});

test("estimate source over a short real interval", async () => {
  const source = await createEstimateSource();
  const meter = createChunkMeter({ source, intervalMs: 20, idleWatts: 10 });
  assert.equal(meter.source, "estimate");
  await meter.start();
  const until = Date.now() + 250;
  let x = 0;
  while (Date.now() < until) {
    x += Math.sqrt(x + 1); // some CPU work
    await sleep(5);
  }
  meter.markBusy(0.1);
  meter.markBusy(0.15);
  const acc = await meter.stop();
  assert.equal(acc.energySource, "estimate");
  assert.ok(acc.energyJoules > 0, `energy ${acc.energyJoules}`);
  assert.ok(acc.wallSeconds >= 0.25 && acc.wallSeconds < 5, `wall ${acc.wallSeconds}`);
  assert.ok(acc.peakMemoryBytes > 0);
  assert.equal(acc.memoryKind, "ram");
  assert.ok(acc.samples >= 3, `samples ${acc.samples}`);
  assert.ok(Math.abs(acc.busySeconds - 0.25) < 1e-12);
  // Default estimate spans 40-150 W, so the mean must lie in it (up to float rounding of the integral:
  // a run pinned at 150 W once came out at 150.00000000000003); idle is 10 W x wall.
  assert.ok(acc.meanWatts >= 40 - 1e-9 && acc.meanWatts <= 150 + 1e-9, `mean ${acc.meanWatts}`);
  assert.ok(Math.abs(acc.idleEnergyJoules - 10 * acc.wallSeconds) < 1e-9);
});

test("counter differences: per-step wrap handling and two counters", async () => {
  // Counter A wraps at 1000 units of 0.5 J: 900 -> 950 -> 20 -> 100 (then repeats)
  //   steps 50 + (1000 - 950 + 20 = 70) + 80 = 200 units = 100 J.
  // Counter B never wraps, 1 mJ units: 5000 -> 6000 -> 7000 -> 9000: 4000 mJ = 4 J.
  // Total 104 J, whatever the watts readings say (they are deliberately odd).
  const src = scripted([
    { watts: 1, counters: [counter("a", 900, 1000, 0.5), counter("b", 5000, null, 1e-3)], vramBytes: null },
    { watts: 1, counters: [counter("a", 950, 1000, 0.5), counter("b", 6000, null, 1e-3)], vramBytes: 5 },
    { watts: 1, counters: null, vramBytes: null }, // a failed counter read is skipped, not fatal
    { watts: 1, counters: [counter("a", 20, 1000, 0.5), counter("b", 7000, null, 1e-3)], vramBytes: 9 },
    { watts: 1, counters: [counter("a", 100, 1000, 0.5), counter("b", 9000, null, 1e-3)], vramBytes: 7 },
  ]);
  const meter = createChunkMeter({ source: src, intervalMs: 5 });
  await meter.start();
  // The meter's timer is unref'd (it must not keep an agent alive), so keep the loop busy meanwhile.
  for (let i = 0; i < 200 && src.reads < 5; i += 1) await sleep(5);
  const acc = await meter.stop();
  assert.ok(Math.abs(acc.energyJoules - 104) < 1e-9, String(acc.energyJoules));
  assert.equal(acc.memoryKind, "vram");
  assert.equal(acc.peakMemoryBytes, 9);
  assert.ok(acc.samples >= 5);
});

test("a counter going backwards falls back to integrating watts", async () => {
  // Clock 0 s: 100 W, counter 500; clock 10 s: 100 W, counter 400 (driver reload).
  // Counters unusable -> 100 W x 10 s = 1000 J; mean 100 W; idle 30 W x 10 s = 300 J.
  let t = 0;
  const src = scripted(
    [
      { watts: 100, counters: [counter("gpu", 500, null, 1e-3)], vramBytes: null },
      { watts: 100, counters: [counter("gpu", 400, null, 1e-3)], vramBytes: null },
    ],
    () => t,
  );
  const meter = createChunkMeter({ source: src, intervalMs: 3_600_000, idleWatts: 30, now: () => t });
  await meter.start();
  t = 10_000;
  const acc = await meter.stop();
  assert.equal(acc.wallSeconds, 10);
  assert.equal(acc.energyJoules, 1000);
  assert.equal(acc.meanWatts, 100);
  assert.equal(acc.idleEnergyJoules, 300);
  assert.equal(acc.samples, 2);
});

test("readings that start late or end early are held out to the edges", async () => {
  // Readings at 2 s (100 W) and 8 s (200 W) for a chunk from 0 to 10 s:
  // held: [0,2] 100 W = 200 J; [2,8] trapezoid (100+200)/2*6 = 900 J; [8,10] 200 W = 400 J; total 1500 J.
  let t = 0;
  const stamps = [2000, 8000];
  let i = 0;
  const src: PowerSource = {
    kind: "nvidia-smi",
    description: "late",
    async read() {
      const tMs = stamps[Math.min(i, 1)] as number;
      const watts = i === 0 ? 100 : 200;
      i += 1;
      return { tMs, watts, counters: null, vramBytes: null };
    },
    async close() {},
  };
  const meter = createChunkMeter({ source: src, intervalMs: 3_600_000, now: () => t });
  await meter.start();
  t = 10_000;
  const acc = await meter.stop();
  assert.equal(acc.energyJoules, 1500);
  assert.equal(acc.meanWatts, 150);
});

test("timers stop with the meter; illegal transitions are refused", async () => {
  const src = scripted([{ watts: 50, counters: null, vramBytes: null }]);
  const meter = createChunkMeter({ source: src, intervalMs: 5 });
  await assert.rejects(meter.stop(), IllegalTransitionError);
  await meter.start();
  await assert.rejects(meter.start(), IllegalTransitionError);
  await sleep(40);
  await meter.stop();
  const reads = src.reads;
  await sleep(40);
  assert.equal(src.reads, reads, "no reads after stop");
  // Reusable for the next chunk.
  await meter.start();
  const acc = await meter.stop();
  assert.ok(acc.samples >= 2);
});

test("a failing source is survived: energy 0, not a crash", async () => {
  const src: PowerSource = {
    kind: "nvml",
    description: "broken",
    async read() {
      throw new Error("GPU fell off the bus");
    },
    async close() {},
  };
  const meter = createChunkMeter({ source: src, intervalMs: 5 });
  await meter.start();
  await sleep(20);
  const acc = await meter.stop();
  assert.equal(acc.energyJoules, 0);
  assert.equal(acc.samples, 0);
  assert.equal(acc.energySource, "nvml");
});

test("a running meter does not keep the process alive (unref'd timer)", async () => {
  const { execFile } = await import("node:child_process");
  const meterUrl = new URL("../../agent/probe/chunk-meter.ts", import.meta.url).href;
  const script = `
    const { createChunkMeter } = await import(${JSON.stringify(meterUrl)});
    const source = { kind: "estimate", description: "x", read: async () => ({ tMs: Date.now(), watts: 1, counters: null, vramBytes: null }), close: async () => {} };
    await createChunkMeter({ source, intervalMs: 10 }).start();
    console.log("started");
  `;
  const started = Date.now();
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { timeout: 20_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
  assert.equal(out.trim(), "started");
  assert.ok(Date.now() - started < 20_000);
});

test("start() returns before its first reading and RAM reset finish; busy time then counts and stop() waits for them", async () => {
  let releaseRead!: () => void;
  const readGate = new Promise<void>((r) => (releaseRead = r));
  let releaseRam!: () => void;
  const ramGate = new Promise<void>((r) => (releaseRam = r));
  let reads = 0;
  const src: PowerSource = {
    kind: "rapl",
    description: "slow first reading",
    async read() {
      reads += 1;
      if (reads === 1) await readGate;
      return { tMs: 0, watts: 10, counters: null, vramBytes: null };
    },
    async close() {},
  };
  let t = 0;
  const meter = createChunkMeter({
    source: src,
    intervalMs: 3_600_000,
    now: () => t,
    ramTracker: async () => {
      await ramGate;
      return { sample: () => undefined, peak: async () => 123 };
    },
  });
  await meter.start(); // neither the RAM tracker nor the first reading has finished
  assert.equal(reads, 0, "the first reading waits for the RAM tracker");
  meter.markBusy(0.5);
  let stopped = false;
  t = 2000;
  const stopping = meter.stop().then((acc) => {
    stopped = true;
    return acc;
  });
  await sleep(10);
  assert.equal(stopped, false, "stop waits for start's readings");
  releaseRam();
  await sleep(10);
  assert.equal(reads, 1);
  assert.equal(stopped, false);
  releaseRead();
  const acc = await stopping;
  assert.equal(acc.busySeconds, 0.5);
  assert.equal(acc.wallSeconds, 2, "wall runs from the start() call");
  assert.equal(acc.samples, 2, "start's reading and stop's");
  assert.equal(acc.peakMemoryBytes, 123);
});
