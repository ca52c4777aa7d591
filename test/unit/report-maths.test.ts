import { test } from "node:test";
import assert from "node:assert/strict";
import { buildReport } from "../../coordinator/report/build-report.ts";
import { collectReport } from "../../coordinator/report/collect-report.ts";
import { reportCsv, reportText } from "../../cli/format/report-text.ts";
import { compileTariff, type TariffSpec } from "../../shared/accounting/tariff.ts";
import type { LedgerEntry } from "../../coordinator/store/ledger-table.ts";
import type { AgentRow } from "../../coordinator/store/agents-table.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import type { TelemetryBucketRow } from "../../coordinator/telemetry/telemetry-bucket.ts";
import { insertAgent, insertJob, openTempStore } from "../helpers/store-fixture.ts";

const GIB = 2 ** 30;
const utc = (iso: string): number => Date.parse(iso);
const close = (actual: number, expected: number, what: string, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `${what}: expected ${expected}, got ${actual}`);

/** Cheap from midnight to 07:00, dear the rest of the day: the price changes at midnight. */
const midnightTariff = (timeZone: string): TariffSpec => ({
  kind: "time-of-use",
  currency: "EUR",
  timeZone,
  periods: [
    { from: "00:00", to: "07:00", pricePerKwh: 0.1 },
    { from: "07:00", to: "24:00", pricePerKwh: 0.3 },
  ],
});

function entry(e: Partial<LedgerEntry> & Pick<LedgerEntry, "agentId" | "jobId" | "frames" | "wallSeconds" | "energyJoules" | "finishedAt">): LedgerEntry {
  return {
    chunkId: `${e.jobId}-${e.finishedAt}`,
    attemptId: `att-${e.agentId}-${e.finishedAt}`,
    busySeconds: e.wallSeconds,
    energySource: "nvml",
    idleEnergyJoules: 0,
    peakMemoryBytes: 0,
    memoryKind: "ram",
    meanWatts: e.energyJoules / e.wallSeconds,
    samples: 0,
    ...e,
  };
}

const agentRow = (id: string, name: string): AgentRow => ({
  id, name, state: "online", version: "test", gpus: [], ramBytes: 0, cpuCount: 1, tags: [], kinds: [{ kind: "model", version: "1.30.0", features: [] }], address: "", firstSeen: 0, lastSeen: 0,
});

const jobRow = (id: string, fps: number, createdAt: number): JobRow =>
  ({ id, name: "shot-040", state: "done", priority: 0, fps, createdAt, startedAt: createdAt, finishedAt: utc("2025-01-02T02:00:00Z") }) as unknown as JobRow;

/**
 * Hand-computed fixture (UTC tariff):
 *   gpu-a: one chunk 23:30-00:30, 48 frames, 3.6 MJ = 1 kWh (half before midnight at 0.30, half after at 0.10)
 *          cost 0.5 x 0.30 + 0.5 x 0.10 = 0.20; idle 360 kJ = 100 Wh; peak VRAM 8 GiB
 *   cpu-b: one chunk 01:30-02:00, 24 frames, 720 kJ = 200 Wh at 0.10 = 0.02; idle 180 kJ = 50 Wh; RAM 1 GiB; estimate
 *   job:   72 frames at 24 fps = 3 s of video, 1200 Wh, 0.22 EUR, idle share 150/1200.
 */
function fixture(timeZone = "UTC") {
  const ledger = [
    entry({ agentId: "agt_a", jobId: "job_1", frames: 48, wallSeconds: 3600, energyJoules: 3_600_000, finishedAt: utc("2025-01-02T00:30:00Z"),
      idleEnergyJoules: 360_000, peakMemoryBytes: 8 * GIB, memoryKind: "vram", energySource: "nvml" }),
    entry({ agentId: "agt_b", jobId: "job_1", frames: 24, wallSeconds: 1800, energyJoules: 720_000, finishedAt: utc("2025-01-02T02:00:00Z"),
      idleEnergyJoules: 180_000, peakMemoryBytes: GIB, memoryKind: "ram", energySource: "estimate" }),
  ];
  return buildReport({
    ledger,
    agents: [agentRow("agt_a", "gpu-a"), agentRow("agt_b", "cpu-b")],
    jobs: [jobRow("job_1", 24, utc("2025-01-01T23:00:00Z"))],
    tariff: compileTariff(midnightTariff(timeZone)),
    tariffLabel: "test",
    period: "job",
    nowMs: utc("2025-01-02T03:00:00Z"),
    fromMs: utc("2025-01-01T23:00:00Z"),
  });
}

test("per-agent figures: energy, cost across the midnight price change, idle share, Wh per frame and per video second", () => {
  const r = fixture();
  const a = r.agents.find((x) => x.name === "gpu-a")!;
  close(a.energyWh, 1000, "gpu-a energyWh");
  close(a.kWh, 1, "gpu-a kWh");
  close(a.cost, 0.2, "gpu-a cost");
  close(a.idleEnergyWh, 100, "gpu-a idleEnergyWh");
  close(a.idleShare, 0.1, "gpu-a idleShare");
  close(a.whPerFrame, 1000 / 48, "gpu-a whPerFrame");
  close(a.whPerVideoSecond, 500, "gpu-a whPerVideoSecond"); // 48 frames at 24 fps = 2 s
  assert.equal(a.peakVramBytes, 8 * GIB);
  assert.equal(a.energySource, "nvml");
  assert.equal(a.seconds, 3600);

  const b = r.agents.find((x) => x.name === "cpu-b")!;
  close(b.energyWh, 200, "cpu-b energyWh");
  close(b.cost, 0.02, "cpu-b cost"); // all of it after midnight, at 0.10
  close(b.idleShare, 0.25, "cpu-b idleShare");
  assert.equal(b.peakVramBytes, null, "a CPU agent has no VRAM peak");
  assert.equal(b.peakMemoryBytes, GIB);
  assert.equal(b.memoryKind, "ram");
  assert.equal(b.energySource, "estimate");
});

test("per-job and total figures, with the cost split by price", () => {
  const r = fixture();
  const j = r.jobs[0]!;
  assert.equal(j.frames, 72);
  close(j.energyWh, 1200, "job energyWh");
  close(j.whPerFrame, 1200 / 72, "job whPerFrame");
  close(j.whPerVideoSecond, 400, "job whPerVideoSecond"); // 72 frames / 24 fps = 3 s
  close(j.cost, 0.22, "job cost");
  close(j.idleShare, 0.125, "job idleShare");
  close(j.seconds, 5400, "job chunk seconds");
  assert.equal(j.energySource, "estimate", "one estimated chunk makes the job an estimate");
  assert.equal(j.peakVramBytes, 8 * GIB);

  close(r.totals.kWh, 1.2, "total kWh");
  close(r.totals.cost, 0.22, "total cost");
  assert.equal(r.totals.costByPrice.length, 2);
  close(r.totals.costByPrice[0]!.pricePerKwh, 0.1, "cheap price");
  close(r.totals.costByPrice[0]!.kWh, 0.7, "kWh after midnight"); // 0.5 of gpu-a + 0.2 of cpu-b
  close(r.totals.costByPrice[1]!.kWh, 0.5, "kWh before midnight");
  close(r.totals.costByPrice[1]!.cost, 0.15, "cost before midnight");
});

test("a tariff in another time zone moves the price change: midnight at +01:00 is 23:00 UTC", () => {
  // gpu-a's chunk 23:30-00:30 UTC is 00:30-01:30 local: all cheap, 1 kWh x 0.10.
  const r = fixture("+01:00");
  close(r.agents.find((x) => x.name === "gpu-a")!.cost, 0.1, "gpu-a cost at +01:00");
});

test("--json has the keys the issue names, and CSV and text carry the same figures", () => {
  const r = JSON.parse(JSON.stringify(fixture())) as Record<string, unknown> & { agents: Record<string, unknown>[]; jobs: Record<string, unknown>[] };
  for (const a of r.agents) {
    for (const k of ["name", "frames", "seconds", "energyWh", "energySource", "idleEnergyWh", "peakMemoryBytes", "cost", "kWh", "whPerFrame", "whPerVideoSecond", "idleShare"]) {
      assert.ok(k in a, `agent key ${k}`);
    }
    assert.ok("peakVramBytes" in a);
  }
  for (const k of ["id", "frames", "energyWh", "whPerFrame", "cost", "kWh", "whPerVideoSecond", "idleShare"]) assert.ok(k in r.jobs[0]!, `job key ${k}`);
  assert.ok("totals" in r && "period" in r && "currency" in r);

  const csv = reportCsv(fixture()).trim().split("\n").map((l) => l.split(","));
  const header = csv[0]!;
  const row = (kind: string, name: string) => csv.find((c) => c[0] === kind && c[2] === name)!;
  const col = (cells: string[], name: string) => cells[header.indexOf(name)];
  assert.equal(csv.length, 1 + 2 + 1 + 1, "header, two agents, one job, the total");
  assert.equal(Number(col(row("agent", "gpu-a"), "energy_wh")), 1000);
  assert.equal(Number(col(row("agent", "gpu-a"), "peak_vram_bytes")), 8 * GIB);
  assert.equal(col(row("agent", "cpu-b"), "peak_vram_bytes"), "");
  close(Number(col(row("job", "shot-040"), "cost")), 0.22, "csv job cost");

  const text = reportText(fixture());
  assert.match(text, /1\.200000 kWh/);
  assert.match(text, /by price: 0\.700000 kWh at 0\.1/);
});

test("telemetry energy over the period counts buckets cut at the edges in proportion", () => {
  const bucket = (startMs: number, joules: number, busy: boolean): TelemetryBucketRow => ({
    agentId: "agt_a", bucketMs: 60_000, startMs, samples: 60, busySamples: busy ? 60 : 0, idleEnergyJoules: busy ? 0 : joules, wattsSamples: 60, minWatts: 1, meanWatts: 1, maxWatts: 1,
    energyJoules: joules, maxVramBytes: null, maxRamBytes: 1, maxTemperatureC: null, utilSamples: 0, meanUtilisation: null, source: "nvml",
  });
  const r = buildReport({
    ledger: [],
    agents: [],
    jobs: [],
    telemetry: [bucket(0, 3600, true), bucket(60_000, 7200, false)],
    tariff: compileTariff({ kind: "flat", currency: "EUR", pricePerKwh: 0.3 }),
    tariffLabel: "flat",
    period: "night",
    fromMs: 30_000, // half of the first bucket
    nowMs: 120_000,
  });
  close(r.totals.telemetryEnergyWh!, (1800 + 7200) / 3600, "telemetry Wh");
  close(r.totals.telemetryIdleEnergyWh!, 2, "idle telemetry Wh");
  assert.equal(r.totals.energySource, null);
});

test("the night summary takes jobs created in the last 24 hours and older jobs that committed chunks in them", (t) => {
  const { store } = openTempStore(t);
  const now = utc("2025-01-02T06:00:00Z");
  insertAgent(store, { id: "agt_a" });
  insertJob(store, { id: "job_old_idle", createdAt: now - 48 * 3600_000 });
  insertJob(store, { id: "job_old_busy", createdAt: now - 30 * 3600_000 });
  insertJob(store, { id: "job_new", createdAt: now - 3600_000 });
  store.ledger.append({ ...entry({ agentId: "agt_a", jobId: "job_old_busy", frames: 10, wallSeconds: 10, energyJoules: 3600, finishedAt: now - 3600_000 }) });
  store.ledger.append({ ...entry({ agentId: "agt_a", jobId: "job_old_idle", frames: 10, wallSeconds: 10, energyJoules: 3600, finishedAt: now - 40 * 3600_000 }) });
  const r = collectReport(store, undefined, { compiled: compileTariff({ kind: "flat", currency: "EUR", pricePerKwh: 0.5 }), label: "flat" }, now, "night");
  assert.equal(r.period, "night");
  assert.deepEqual(r.jobs.map((j) => j.id).sort(), ["job_new", "job_old_busy"]);
  close(r.totals.energyWh, 1, "only the chunk inside the night");
  close(r.totals.cost, 0.0005, "1 Wh at 0.50/kWh");
  assert.equal(r.totals.telemetryEnergyWh, null, "no telemetry stored");
});

test("a report over a closed store does not change with the time it is asked: the last bucket is not cut at now", (t) => {
  const { store } = openTempStore(t);
  const t0 = utc("2025-01-02T06:00:00Z");
  insertAgent(store, { id: "agt_a" });
  insertJob(store, { id: "job_1", createdAt: t0 - 3600_000 });
  // The coordinator stopped 20 s into the minute and wrote its open bucket: 20 s of samples, 600 J.
  store.telemetry.upsert([{
    agentId: "agt_a", bucketMs: 60_000, startMs: t0, samples: 2, busySamples: 2, idleEnergyJoules: 0, wattsSamples: 2, minWatts: 30, meanWatts: 30, maxWatts: 30,
    energyJoules: 600, maxVramBytes: null, maxRamBytes: 1, maxTemperatureC: null, utilSamples: 0, meanUtilisation: null, source: "nvml",
  }]);
  const tariff = { compiled: compileTariff({ kind: "flat", currency: "EUR", pricePerKwh: 0.5 }), label: "flat" };
  const at = (ms: number) => collectReport(store, undefined, tariff, ms, "all").totals.telemetryEnergyWh;
  const first = at(t0 + 25_000);
  close(first!, 600 / 3600, "the whole written bucket");
  for (const later of [t0 + 40_000, t0 + 59_000, t0 + 3600_000, t0 + 30 * 3600_000]) assert.equal(at(later), first, `report at +${later - t0} ms`);
});

test("idle telemetry energy counts the idle samples of a bucket that was busy part of the time", () => {
  const r = buildReport({
    ledger: [],
    agents: [],
    jobs: [],
    // one minute: three samples, one busy (300 J), two idle (60 J each)
    telemetry: [{
      agentId: "agt_a", bucketMs: 60_000, startMs: 0, samples: 3, busySamples: 1, idleEnergyJoules: 120, wattsSamples: 3, minWatts: 3, meanWatts: 7, maxWatts: 15,
      energyJoules: 420, maxVramBytes: null, maxRamBytes: 1, maxTemperatureC: null, utilSamples: 0, meanUtilisation: null, source: "nvml",
    }],
    tariff: compileTariff({ kind: "flat", currency: "EUR", pricePerKwh: 0.3 }),
    tariffLabel: "flat",
    period: "all",
    fromMs: 0,
    nowMs: 60_000,
  });
  close(r.totals.telemetryEnergyWh!, 420 / 3600, "telemetry Wh");
  close(r.totals.telemetryIdleEnergyWh!, 120 / 3600, "idle telemetry Wh");
});

test("CSV cells carry no float noise: 0.1 + 0.2 style sums print as their short decimal", () => {
  const base = fixture();
  const noisy = { ...base, agents: base.agents.map((a) => ({ ...a, energyWh: 0.1 + 0.2, kWh: 1.3409999999999997, cost: 1e-7 })) };
  const csv = reportCsv(noisy);
  assert.doesNotMatch(csv, /\d\.\d*9{6,}\d*|\d\.\d*0{6,}[1-9]/, "no float noise");
  const header = csv.split("\n")[0]!.split(",");
  const row = csv.split("\n").find((l) => l.startsWith("agent,"))!.split(",");
  assert.equal(row[header.indexOf("energy_wh")], "0.3");
  assert.equal(row[header.indexOf("kwh")], "1.341");
  assert.equal(Number(row[header.indexOf("cost")]), 1e-7, "small figures keep their value");
});
