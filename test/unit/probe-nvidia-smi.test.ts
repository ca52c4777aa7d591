import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  computeAppsArgs,
  gpuQueryArgs,
  queryComputeApps,
  queryGpus,
  runSmi,
  startSmiSampler,
  type TimedSmiReading,
} from "../../agent/probe/nvidia-smi.ts";
import { createSmiSource } from "../../agent/probe/smi-source.ts";

/**
 * nvidia-smi cannot run here, so a small script replays captured lines the way
 * nvidia-smi prints them: once, or every -lms milliseconds until killed. It
 * exits by itself after 20 s so that nothing outlives a broken test.
 */
const REPLAY = `
import { readFileSync } from "node:fs";
const [linesFile, appsFile, ...args] = process.argv.slice(2);
const file = args.some((a) => a.startsWith("--query-compute-apps")) ? appsFile : linesFile;
const text = readFileSync(file, "utf8");
const i = args.indexOf("-lms");
if (i === -1) { process.stdout.write(text); process.exit(0); }
const every = Number(args[i + 1]);
setInterval(() => process.stdout.write(text), every);
setTimeout(() => process.exit(3), 20000);
`;

const UUID = "GPU-00000000-0000-0000-0000-000000000000";
// The H100 capture's load row, in GPU_QUERY_FIELDS order without units (see probe-nvidia-smi-csv.test.ts).
const H100_LINE = `0, ${UUID}, NVIDIA H100 80GB HBM3, 631.95, 700.00, 19818, 81559, 100, 59\n`;

function setup(): { dir: string; bin: string; binArgs: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "nightshift-smi-"));
  writeFileSync(join(dir, "replay.mjs"), REPLAY);
  writeFileSync(join(dir, "gpus.txt"), H100_LINE);
  writeFileSync(join(dir, "apps.txt"), `${process.pid}, 15690, ${UUID}\n11327, 2566, ${UUID}\n`);
  return { dir, bin: process.execPath, binArgs: [join(dir, "replay.mjs"), join(dir, "gpus.txt"), join(dir, "apps.txt")] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("query arguments follow the documented nvidia-smi options", () => {
  assert.deepEqual(gpuQueryArgs(100), [
    "--query-gpu=index,uuid,name,power.draw,power.limit,memory.used,memory.total,utilization.gpu,temperature.gpu",
    "--format=csv,noheader,nounits",
    "-lms",
    "100",
  ]);
  assert.deepEqual(computeAppsArgs(), ["--query-compute-apps=pid,used_memory,gpu_uuid", "--format=csv,noheader,nounits"]);
});

test("sampler parses lines as they come and kills the child on stop", async (t) => {
  const { dir, bin, binArgs } = setup();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const readings: TimedSmiReading[] = [];
  const sampler = startSmiSampler({ bin, binArgs, intervalMs: 30, onReading: (r) => readings.push(r) });
  for (let i = 0; i < 100 && readings.length < 3; i += 1) await sleep(30);
  assert.ok(readings.length >= 3, `got ${readings.length} readings`);
  assert.equal(readings[0]?.powerWatts, 631.95);
  assert.equal(readings[0]?.uuid, UUID);
  const pid = sampler.pid as number;
  assert.ok(alive(pid));
  await sampler.stop();
  await sampler.stop();
  assert.equal(alive(pid), false);
  const count = readings.length;
  await sleep(80);
  assert.equal(readings.length, count, "no readings after stop");
});

test("one-shot queries parse GPUs and compute apps; a missing binary is a reason", async (t) => {
  const { dir, bin, binArgs } = setup();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const gpus = await queryGpus({ bin, binArgs });
  assert.ok(gpus.ok);
  assert.equal(gpus.value[0]?.memoryTotalBytes, 81559 * 1024 * 1024);
  const apps = await queryComputeApps({ bin, binArgs });
  assert.ok(apps.ok);
  assert.deepEqual(
    apps.value.map((a) => a.pid),
    [process.pid, 11327],
  );
  const missing = await runSmi(["-L"], { bin: join(dir, "no-such-nvidia-smi") });
  assert.equal(missing.ok, false);
  assert.match(missing.ok ? "" : missing.reason, /not found/);
});

test("nvidia-smi power source: latest power.draw and the agent's own VRAM", async (t) => {
  const { dir, bin, binArgs } = setup();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await createSmiSource({ bin, binArgs, intervalMs: 30, appsIntervalMs: 10 });
  assert.ok(r.ok, r.ok ? "" : r.reason);
  t.after(() => r.source.close());
  assert.equal(r.source.kind, "nvidia-smi");
  let reading = await r.source.read();
  for (let i = 0; i < 100 && (reading.watts === null || reading.vramBytes === null); i += 1) {
    await sleep(30);
    reading = await r.source.read();
  }
  assert.equal(reading.watts, 631.95);
  assert.equal(reading.counters, null);
  assert.equal(reading.vramBytes, 15690 * 1024 * 1024);
  await r.source.close();
});

test("without NVML, nvidia-smi is chosen; inventory falls back to it", async (t) => {
  const { dir, bin, binArgs } = setup();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { choosePowerSource } = await import("../../agent/probe/power-source.ts");
  const { probeInventory } = await import("../../agent/probe/gpu-inventory.ts");
  const choice = await choosePowerSource({ nvmlLibraryPath: join(dir, "libnvidia-ml.so.1"), smi: { bin, binArgs, intervalMs: 50 } });
  t.after(() => choice.source.close());
  assert.equal(choice.source.kind, "nvidia-smi");
  assert.deepEqual(
    choice.skipped.map((s) => s.kind),
    ["nvml"],
  );
  await choice.source.close();
  const inv = await probeInventory({ nvmlLibraryPath: join(dir, "libnvidia-ml.so.1"), smi: { bin, binArgs } });
  assert.equal(inv.gpuSource, "nvidia-smi");
  assert.deepEqual(inv.gpus, [{ index: 0, name: "NVIDIA H100 80GB HBM3", uuid: UUID, vramBytes: 81559 * 1024 * 1024 }]);
});
