import { test } from "node:test";
import assert from "node:assert/strict";
import { TelemetryAggregator } from "../../coordinator/telemetry/telemetry-aggregator.ts";
import { coarsenBuckets, type TelemetryBucketRow } from "../../coordinator/telemetry/telemetry-bucket.ts";
import { HOUR_MS, retentionCutoffs } from "../../coordinator/telemetry/telemetry-retention.ts";
import { TelemetryService } from "../../coordinator/telemetry/telemetry-service.ts";
import type { TelemetrySample } from "../../shared/protocol/telemetry-message.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { openTempStore } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const T0 = Date.UTC(2025, 0, 1); // a minute boundary
const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-9, `${what}: expected ${b}, got ${a}`);

function sample(seq: number, tMs: number, watts: number | null, total: number, o: Partial<TelemetrySample> = {}): TelemetrySample {
  return {
    agentId: "agt_a", session: "s1", seq, tMs, source: "nvml", watts, energyJoules: 0, energyTotalJoules: total, energyMethod: "counter",
    vramBytes: 100, ramBytes: 1000, utilisationPercent: 50, temperatureC: 60, powerLimitWatts: 300, busy: true, idleWatts: null, ...o,
  };
}

test("samples fold into minute buckets; energy comes from the running totals, so a lost sample loses nothing", () => {
  const agg = new TelemetryAggregator(60_000);
  assert.deepEqual(agg.add(sample(0, T0 + 10_000, 100, 1000, { energyJoules: 7 }))?.energyJoules, 7, "first of a session: its own step");
  assert.equal(agg.add(sample(1, T0 + 20_000, 300, 1200, { vramBytes: 500, temperatureC: 70 }))?.energyJoules, 200);
  // seq 2 was lost; seq 3 carries its energy through the total.
  assert.equal(agg.add(sample(3, T0 + 40_000, null, 1500, { busy: false, utilisationPercent: null }))?.energyJoules, 300);
  assert.equal(agg.add(sample(3, T0 + 40_000, 200, 1500)), null, "a duplicate is dropped");
  const next = agg.add(sample(4, T0 + 61_000, 200, 1600));
  assert.equal(next?.closed.length, 1);
  const b = next!.closed[0]!;
  assert.equal(b.startMs, T0);
  assert.equal(b.samples, 3);
  assert.equal(b.busySamples, 2);
  close(b.idleEnergyJoules, 300, "the idle sample's energy");
  assert.equal(b.wattsSamples, 2);
  assert.equal(b.minWatts, 100);
  assert.equal(b.maxWatts, 300);
  close(b.meanWatts!, 200, "mean of 100 and 300");
  close(b.energyJoules, 507, "7 + 200 + 300");
  assert.equal(b.maxVramBytes, 500);
  assert.equal(b.maxTemperatureC, 70);
  close(b.meanUtilisation!, 50, "utilisation mean over the samples that had one");
  // A restarted agent (new session) starts its totals again.
  assert.equal(agg.add(sample(0, T0 + 62_000, 200, 5, { session: "s2", energyJoules: 5 }))?.energyJoules, 5);
  assert.equal(agg.flushEnded(T0 + 120_000 + 4_999).length, 0, "within the grace period");
  assert.equal(agg.flushEnded(T0 + 125_000).length, 1);
});

test("minutes coarsen into hours with means weighted by sample counts and sources at their weakest", () => {
  const row = (startMs: number, mean: number, n: number, source: TelemetryBucketRow["source"]): TelemetryBucketRow => ({
    agentId: "agt_a", bucketMs: 60_000, startMs, samples: n, busySamples: 0, idleEnergyJoules: 0, wattsSamples: n, minWatts: mean, meanWatts: mean, maxWatts: mean,
    energyJoules: mean * 60, maxVramBytes: null, maxRamBytes: 10, maxTemperatureC: null, utilSamples: 0, meanUtilisation: null, source,
  });
  const [h] = coarsenBuckets([row(T0, 100, 60, "nvml"), row(T0 + 60_000, 400, 20, "estimate")], HOUR_MS);
  assert.equal(h!.samples, 80);
  close(h!.meanWatts!, (100 * 60 + 400 * 20) / 80, "weighted mean");
  close(h!.energyJoules, 6000 + 24000, "energy adds up");
  assert.equal(h!.minWatts, 100);
  assert.equal(h!.maxWatts, 400);
  assert.equal(h!.source, "estimate");
  assert.throws(() => coarsenBuckets([row(T0, 1, 1, "nvml")], 90_000), RangeError);
});

test("a month of minute buckets is kept as a week of minutes and hours before that", (t) => {
  const { store } = openTempStore(t);
  const now = T0 + 30 * 86_400_000;
  const rows: TelemetryBucketRow[] = [];
  for (let m = 0; m < 30 * 1440; m += 1) {
    rows.push({
      agentId: "agt_a", bucketMs: 60_000, startMs: T0 + m * 60_000, samples: 60, busySamples: 30, idleEnergyJoules: 10, wattsSamples: 60, minWatts: 50, meanWatts: 100,
      maxWatts: 200, energyJoules: 6000, maxVramBytes: 2 ** 30, maxRamBytes: 2 ** 28, maxTemperatureC: 70, utilSamples: 60, meanUtilisation: 40, source: "nvml",
    });
  }
  store.telemetry.upsert(rows);
  const before = store.telemetry.list({ fromMs: T0, toMs: now }).reduce((s, b) => s + b.energyJoules, 0);
  const r = store.telemetry.compact(retentionCutoffs(now, { minuteDays: 7, hourDays: 400 }));
  assert.equal(r.coarsened, 23 * 1440);
  assert.equal(store.telemetry.count(60_000), 7 * 1440);
  assert.equal(store.telemetry.count(HOUR_MS), 23 * 24);
  const after = store.telemetry.list({ fromMs: T0, toMs: now });
  close(after.reduce((s, b) => s + b.energyJoules, 0), before, "compaction keeps every joule");
  const hour = after.find((b) => b.bucketMs === HOUR_MS)!;
  assert.equal(hour.samples, 3600);
  assert.equal(hour.busySamples, 1800);
  close(hour.idleEnergyJoules, 600, "60 minutes of 10 J idle");
  close(hour.meanWatts!, 100, "hour mean");
  // Running it again changes nothing; expired hours go.
  assert.equal(store.telemetry.compact(retentionCutoffs(now, { minuteDays: 7, hourDays: 400 })).coarsened, 0);
  const late = store.telemetry.compact(retentionCutoffs(now + 395 * 86_400_000, { minuteDays: 7, hourDays: 400 }));
  assert.ok(late.deleted > 0);
  assert.equal(store.telemetry.count(60_000), 0);
});

test("the service writes buckets to the store, merging a bucket written twice, and keeps the latest sample", (t) => {
  const { store } = openTempStore(t);
  const clock = manualClock(T0 + 30_000);
  const svc = new TelemetryService(store, clock.now, testLog());
  svc.ingest("agt_a", sample(0, T0 + 1_000, 100, 0));
  svc.ingest("agt_a", sample(1, T0 + 2_000, 100, 100));
  svc.ingest("agt_b", { ...sample(0, T0, 1, 0), agentId: "agt_a" }); // wrong subject
  assert.equal(svc.dropped, 1);
  svc.stop(); // writes the open bucket
  svc.ingest("agt_a", sample(2, T0 + 3_000, 300, 400));
  svc.stop();
  const [b] = store.telemetry.list({ fromMs: T0, toMs: T0 + 60_000 });
  assert.equal(b!.samples, 3);
  close(b!.energyJoules, 400, "0 + 100 + 300");
  assert.equal(b!.maxWatts, 300);
  assert.equal(svc.latest("agt_a")?.sample.seq, 2);
  close(svc.energyJoules().get("agt_a")!, 400, "energy counter");
  close(svc.expectedBusyWatts("agt_a")!, 500 / 3, "fewer than 5 busy readings: the stored fully-busy minute's mean");
  const far = { ...sample(3, T0 + 10 * 86_400_000, 50, 450) };
  svc.ingest("agt_a", far);
  svc.stop();
  assert.equal(store.telemetry.list({ fromMs: T0 + 86_400_000, toMs: Infinity }).length, 0, "a sample from a skewed clock is filed at the receive time");
});
