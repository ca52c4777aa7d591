import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkEstimateConfig,
  createCpuUtilisationMeter,
  DEFAULT_CPU_ESTIMATE,
  estimateWatts,
  parseProcStat,
  utilisationBetween,
} from "../../agent/probe/estimate.ts";
import { createEstimateSource } from "../../agent/probe/estimate-source.ts";
import { BadInputError } from "../../shared/errors.ts";

const STAT = readFileSync(new URL("../fixtures/probe/proc-stat-2cpu.txt", import.meta.url), "utf8");

test("linear model between idle and max", () => {
  // 40 + (150 - 40) x 0.5 = 95 W; clamped outside [0, 1].
  assert.equal(estimateWatts({ idleWatts: 40, maxWatts: 150 }, 0.5), 95);
  assert.equal(estimateWatts({ idleWatts: 40, maxWatts: 150 }, 1.7), 150);
  assert.equal(estimateWatts({ idleWatts: 40, maxWatts: 150 }, -1), 40);
  assert.equal(estimateWatts({ idleWatts: 40, maxWatts: 150 }, Number.NaN), 40);
  assert.deepEqual(DEFAULT_CPU_ESTIMATE, { idleWatts: 40, maxWatts: 150 });
});

test("bad estimate figures name the field", () => {
  assert.throws(
    () => checkEstimateConfig({ idleWatts: 100, maxWatts: 50 }),
    (e: unknown) => e instanceof BadInputError && e.field === "power.estimate.maxWatts",
  );
  assert.throws(
    () => checkEstimateConfig({ idleWatts: -1, maxWatts: 50 }),
    (e: unknown) => e instanceof BadInputError && e.field === "power.estimate.idleWatts",
  );
});

test("/proc/stat aggregate line from a real machine", () => {
  // cpu  44827 0 6914 154764 989 0 76 113 0 0
  // total = 44827+0+6914+154764+989+0+76+113 = 207683 (guest columns are already in user)
  // idle  = idle 154764 + iowait 989 = 155753
  assert.deepEqual(parseProcStat(STAT), { idle: 155_753, total: 207_683 });
  assert.equal(parseProcStat("intr 1 2 3\n"), null);
});

test("utilisation between two readings", () => {
  // +1000 jiffies total, +250 idle -> 75 % busy.
  assert.equal(utilisationBetween({ idle: 100, total: 1000 }, { idle: 350, total: 2000 }), 0.75);
  assert.equal(utilisationBetween({ idle: 100, total: 1000 }, { idle: 100, total: 1000 }), null);
});

test("system utilisation from a /proc/stat file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "nightshift-procstat-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "stat");
  writeFileSync(path, "cpu  100 0 100 800 0 0 0 0 0 0\n");
  const meter = await createCpuUtilisationMeter(path);
  assert.equal(meter.basis, "system");
  // +400 user, +100 idle of +500 total -> 80 % busy.
  writeFileSync(path, "cpu  500 0 100 900 0 0 0 0 0 0\n");
  assert.equal(await meter.read(), 0.8);
  const source = await createEstimateSource({ procStatPath: path, config: { idleWatts: 20, maxWatts: 120 } });
  writeFileSync(path, "cpu  600 0 100 1300 0 0 0 0 0 0\n"); // +100 busy of +500 -> 20 % -> 20 + 100 x 0.2 = 40 W
  const r = await source.read();
  assert.equal(r.watts, 40);
  assert.equal(source.kind, "estimate");
});

test("without /proc/stat the process's own CPU time is used", async () => {
  const meter = await createCpuUtilisationMeter(join(tmpdir(), "nightshift-no-such-stat"));
  assert.equal(meter.basis, "process");
  const end = Date.now() + 50;
  while (Date.now() < end) Math.sqrt(Math.random());
  const u = await meter.read();
  assert.ok(u !== null && u > 0 && u <= 1, String(u));
});
