import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeInventory } from "../../agent/probe/gpu-inventory.ts";
import { measureIdleWatts } from "../../agent/probe/measure-idle.ts";
import { choosePowerSource, SOURCE_ORDER } from "../../agent/probe/power-source.ts";
import type { PowerSource } from "../../agent/probe/power-source-types.ts";
import { MissingDependencyError } from "../../shared/errors.ts";

const nowhere = (): string => join(tmpdir(), `nightshift-absent-${process.pid}`);

test("order is nvml > nvidia-smi > rapl > estimate", () => {
  assert.deepEqual(SOURCE_ORDER, ["nvml", "nvidia-smi", "rapl", "estimate"]);
});

test("nothing measurable: estimate, with a reason for each skipped source", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "nightshift-choose-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const choice = await choosePowerSource({
    nvmlLibraryPath: join(dir, "libnvidia-ml.so.1"),
    smi: { bin: join(dir, "nvidia-smi") },
    raplRoot: join(dir, "powercap"),
  });
  t.after(() => choice.source.close());
  assert.equal(choice.source.kind, "estimate");
  assert.match(choice.source.description, /default figures \(a guess\)/);
  assert.deepEqual(
    choice.skipped.map((s) => s.kind),
    ["nvml", "nvidia-smi", "rapl"],
  );
  assert.match(choice.skipped[0]?.reason ?? "", /libnvidia-ml\.so\.1 not loadable/);
  assert.match(choice.skipped[1]?.reason ?? "", /not found on PATH/);
  assert.match(choice.skipped[2]?.reason ?? "", /powercap/);
  const r = await choice.source.read();
  assert.ok(r.watts !== null && r.watts >= 40 && r.watts <= 150);
});

test("a forced source that is missing is an error, not a silent estimate", async () => {
  await assert.rejects(
    choosePowerSource({ only: "rapl", raplRoot: nowhere() }),
    (e: unknown) => e instanceof MissingDependencyError && /power source rapl is not available/.test(e.message),
  );
  const forced = await choosePowerSource({ only: "estimate", estimate: { idleWatts: 5, maxWatts: 6 } });
  assert.equal(forced.source.kind, "estimate");
  assert.equal(forced.skipped.length, 3);
});

test("measured idle baseline is the median reading", async () => {
  const watts = [60, 61, 300, 62, 59];
  let i = 0;
  const src: PowerSource = {
    kind: "nvml",
    description: "scripted",
    async read() {
      return { tMs: Date.now(), watts: watts[i++ % watts.length] ?? null, counters: null, vramBytes: null };
    },
    async close() {},
  };
  // 5 readings (duration 40 ms at 10 ms) -> median of 59,60,61,62,300 = 61.
  assert.equal(await measureIdleWatts(src, { durationMs: 40, intervalMs: 10 }), 61);
});

test("inventory on this machine: host figures, GPUs only if a driver answers", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "nightshift-inv-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inv = await probeInventory({ nvmlLibraryPath: join(dir, "libnvidia-ml.so.1"), smi: { bin: join(dir, "nvidia-smi") } });
  assert.deepEqual(inv.gpus, []);
  assert.equal(inv.gpuSource, "none");
  assert.equal(inv.gpuNotes.length, 2);
  assert.ok(inv.ramBytes > 0);
  assert.ok(inv.cpuCount >= 1);
  assert.ok(inv.cpuModel.length > 0);
});
