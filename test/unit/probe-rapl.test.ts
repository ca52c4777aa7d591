import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createChunkMeter } from "../../agent/probe/chunk-meter.ts";
import { createRaplSource } from "../../agent/probe/rapl-source.ts";
import { probeRapl, raplDeltaJoules, raplReadFailure, readRapl } from "../../agent/probe/rapl.ts";

// The sysfs layout of a two-socket Intel machine: two packages with a core
// sub-domain each, plus a platform (psys) domain. 262143328850 uJ is a real
// package range (2^32 units of 61.035 uJ).
const RANGE = 262_143_328_850;

function powercap(): string {
  const root = mkdtempSync(join(tmpdir(), "nightshift-powercap-"));
  const domain = (id: string, name: string, energy: number, range = RANGE): void => {
    mkdirSync(join(root, id));
    writeFileSync(join(root, id, "name"), `${name}\n`);
    writeFileSync(join(root, id, "energy_uj"), `${energy}\n`);
    writeFileSync(join(root, id, "max_energy_range_uj"), `${range}\n`);
  };
  domain("intel-rapl:0", "package-0", RANGE - 1_000_000);
  domain("intel-rapl:0:0", "core", 5);
  domain("intel-rapl:1", "package-1", 50_000_000);
  domain("intel-rapl:1:0", "core", 5);
  domain("intel-rapl:2", "psys", 7);
  return root;
}

const setEnergy = (root: string, id: string, uj: number): void => writeFileSync(join(root, id, "energy_uj"), `${uj}\n`);

test("only package domains are used", async (t) => {
  const root = powercap();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const p = await probeRapl(root);
  assert.ok(p.ok);
  assert.deepEqual(
    p.domains.map((d) => [d.id, d.name, d.maxEnergyRangeUj]),
    [
      ["intel-rapl:0", "package-0", RANGE],
      ["intel-rapl:1", "package-1", RANGE],
    ],
  );
});

test("a wrap-around in one package and a plain step in the other", async (t) => {
  const root = powercap();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const p = await probeRapl(root);
  assert.ok(p.ok);
  const before = await readRapl(p.domains);
  setEnergy(root, "intel-rapl:0", 2_000_000); // wrapped: 1 000 000 to the top + 2 000 000 = 3 000 000 uJ
  setEnergy(root, "intel-rapl:1", 54_000_000); // 4 000 000 uJ
  const after = await readRapl(p.domains);
  // 3 000 000 + 4 000 000 uJ = 7 J.
  assert.equal(raplDeltaJoules(p.domains, before, after), 7);
});

test("chunk meter takes RAPL energy from the counters, wrap included", async (t) => {
  const root = powercap();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const r = await createRaplSource({ root });
  assert.ok(r.ok);
  // One reading at start and one at stop: the interval never fires.
  // start() takes its first reading in the background: wait for it before the counters move.
  let firstRead!: () => void;
  const firstReadDone = new Promise<void>((resolve) => (firstRead = resolve));
  const source = r.source;
  const watched: typeof source = Object.assign(Object.create(source) as typeof source, {
    read: async () => {
      const reading = await source.read();
      firstRead();
      return reading;
    },
  });
  const meter = createChunkMeter({ source: watched, intervalMs: 3_600_000 });
  await meter.start();
  await firstReadDone;
  setEnergy(root, "intel-rapl:0", 2_000_000);
  setEnergy(root, "intel-rapl:1", 54_000_000);
  const acc = await meter.stop();
  assert.equal(acc.energySource, "rapl");
  assert.ok(Math.abs(acc.energyJoules - 7) < 1e-9, String(acc.energyJoules));
  assert.equal(acc.samples, 2);
  assert.equal(acc.memoryKind, "ram");
});

test("no powercap directory or no package domain: unavailable with a reason", async (t) => {
  const missing = await probeRapl(join(tmpdir(), "nightshift-no-such-powercap"));
  assert.equal(missing.ok, false);
  assert.match(missing.ok ? "" : missing.reason, /does not exist/);
  const root = mkdtempSync(join(tmpdir(), "nightshift-powercap-empty-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const empty = await probeRapl(root);
  assert.equal(empty.ok, false);
  assert.match(empty.ok ? "" : empty.reason, /no RAPL package domain/);
});

test("energy_uj readable by root only: unavailable, named", { skip: process.getuid?.() === 0 ? "root can read mode 000 files" : false }, async (t) => {
  const root = powercap();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  chmodSync(join(root, "intel-rapl:0", "energy_uj"), 0o000);
  const p = await probeRapl(root);
  assert.equal(p.ok, false);
  assert.match(p.ok ? "" : p.reason, /not readable by this user/);
});

test("EACCES and EPERM are reported as the root-only rule", () => {
  const denied = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
  assert.match(raplReadFailure(denied, "/sys/class/powercap/intel-rapl:0"), /not readable by this user \(root only since Linux 5\.10/);
  const eperm = Object.assign(new Error("EPERM"), { code: "EPERM" });
  assert.match(raplReadFailure(eperm, "/x"), /not readable/);
});
