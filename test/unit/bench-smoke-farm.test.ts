import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { assertPositive, parseOne, runBench } from "../helpers/bench-run.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * Smoke tests of the farm's benchmarks (model frames through the farm, an idle coordinator, provenance's cost): each runs as a real process at a tiny size and must
 * print one JSON object with positive figures and leave nothing in its temp
 * parent. The benchmarks are split over four files so that each file stays
 * well inside the runner's per-file timeout on a loaded 2-core machine (one
 * file of all of them passed 180 s at load 10-17).
 */

test("onnx-in-farm prints its figures for a tiny job and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("onnx-in-farm.bench.ts", ["--frames", "8", "--width", "64", "--height", "36", "--dir", parent]));
  assert.equal(out.benchmark, "onnx-in-farm");
  assert.equal(out.frames, 8);
  assert.equal(out.width, 64);
  assert.equal(out.height, 36);
  assertPositive(out, ["bareFramesPerSecond", "farmFramesPerSecond", "ratio", "farmTotalFramesPerSecond", "ratioTotal"], "onnxInFarm");
  assert.equal(out.sameFrames, true, "the farm must deliver the bytes the bare loop produced");
  const cpu = out.cpuMsPerFrame as { bare: number; farm: { byProcess: Record<string, number>; msPerFrame: Record<string, number> } | null };
  assert.ok(cpu.bare > 0, "the bare loop's CPU per frame");
  if (process.platform === "linux") {
    assert.ok(cpu.farm !== null && (cpu.farm.byProcess.coordinator ?? 0) > 0 && (cpu.farm.byProcess.agent ?? 0) > 0, `farm CPU by process: ${JSON.stringify(cpu.farm)}`);
    for (const key of Object.keys(cpu.farm.msPerFrame)) assert.match(key, /^[\w.-]+\/(main|other|ns-[\w-]+)$/);
  }
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("onnx-in-farm-png times each encoder on model output and checks each is lossless", async () => {
  const out = parseOne(await runBench("onnx-in-farm-png.bench.ts", ["--frames", "2", "--width", "64", "--height", "36", "--reps", "1"]));
  assert.equal(out.benchmark, "onnx-in-farm-png");
  assert.equal(out.lossless, true);
  const encoders = out.encoders as Array<Record<string, unknown>>;
  assert.ok(encoders.length >= 10);
  assert.ok(encoders.some((e) => String(e.name).startsWith("current")));
  for (const e of encoders) assertPositive(e, ["cpuMsPerFrame", "bytesPerFrame", "wallRatioToCurrent"], String(e.name));
});

test("idle-coordinator watches an idle coordinator's threads and timers, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("idle-coordinator.bench.ts", ["--seconds", "2", "--settle", "1", "--dir", parent]));
  assert.equal(out.benchmark, "idle-coordinator");
  const timers = out.timerCallbacksPerSecond as { total: number; bySite: Record<string, number> };
  assert.ok(timers.total > 0, "the coordinator's own timers (dispatcher, agent sweep) are counted");
  assert.ok(Object.keys(timers.bySite).some((site) => site.startsWith("coordinator/")), JSON.stringify(timers.bySite));
  assert.ok(!Object.keys(timers.bySite).some((site) => site.includes("webhook-outbox") || site.includes("disk-full-guard")), "no webhook or full disk: neither polls");
  if (process.platform === "linux") {
    const own = out.coordinator as { cpuMsPerSecond: Record<string, number> };
    assert.ok((own.cpuMsPerSecond.main ?? 0) > 0, JSON.stringify(own));
  }
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("provenance-cost prints the wall and CPU figures with their spread, stops at --rounds, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("provenance-cost.bench.ts", ["--frames", "4", "--width", "64", "--height", "36", "--rounds", "3", "--dir", parent]));
  assert.equal(out.benchmark, "provenance-cost");
  assert.equal(out.rounds, 3);
  assertPositive(out, ["frameMs", "frameWithProvenanceMs"], "provenanceCost");
  assert.ok(Number.isFinite(out.ratio), "ratio is a number");
  const wall = out.wall as Record<string, Record<string, unknown>>;
  const cpu = out.cpu as Record<string, unknown>;
  assertPositive(wall.withoutMsPerFrame!, ["median", "q1", "q3"], "wall.withoutMsPerFrame");
  const paired = wall.pairedRatio as { median: number; interval90: { low: number; high: number } };
  assert.ok(Number.isFinite(paired.median) && paired.interval90.low <= paired.interval90.high, `wall.pairedRatio ${JSON.stringify(paired)}`);
  assertPositive(cpu, ["renderMsPerFrame", "agentPixelHashMsPerFrame"], "cpu");
  assert.equal(cpu.stepsRatio, out.ratio, "the ratio is the CPU figure the aim is judged on");
  const sink = cpu.sinkMsPerFrame as Record<string, Record<string, unknown>>;
  assertPositive(sink.with!, ["median"], "cpu.sinkMsPerFrame.with");
  assertPositive(sink.without!, ["median"], "cpu.sinkMsPerFrame.without");
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});
