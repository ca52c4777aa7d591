/**
 * What telemetry costs on disk: the figure "about 1.2 MB per agent for the first month" in the README's
 * "Accounting" section comes from here.
 *
 *   node --import tsx bench/telemetry-size.bench.ts [--agents 1] [--days 30] [--dir PARENT]
 *
 * Writes one minute bucket per agent per minute for DAYS days through the store's own TelemetryTable,
 * compacting once a simulated day with the default retention (minute rows kept 7 days, then merged into
 * hours), as the coordinator does, then VACUUMs and prints one JSON object: rows kept, bytes per row and per
 * agent, against the baseline of an empty store made in the same run. Real SQLite file under PARENT.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../coordinator/store/store.ts";
import { DEFAULT_TELEMETRY_RETENTION, HOUR_MS, MINUTE_MS, retentionCutoffs } from "../coordinator/telemetry/telemetry-retention.ts";
import type { TelemetryBucketRow } from "../coordinator/telemetry/telemetry-bucket.ts";
import { MB, intFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

const DAY_MS = 24 * HOUR_MS;

/** Size of a store file after VACUUM (the WAL checkpointed into it). */
function vacuumedBytes(store: Store, path: string): number {
  store.db.exec("VACUUM");
  store.db.pragma("wal_checkpoint(TRUNCATE)");
  return statSync(path).size;
}

/** One plausible minute: 60 samples of a busy GPU near 300 W (values vary so SQLite cannot share them). */
function minute(agentId: string, startMs: number, i: number): TelemetryBucketRow {
  const w = 280 + (i % 41);
  return {
    agentId, bucketMs: MINUTE_MS, startMs, samples: 60, busySamples: i % 3 === 0 ? 0 : 60, idleEnergyJoules: i % 3 === 0 ? w * 60 : 0,
    wattsSamples: 60, minWatts: w - 12.5, meanWatts: w + 0.25, maxWatts: w + 17.75, energyJoules: w * 60 + (i % 7),
    maxVramBytes: 8_000_000_000 + i * 4096, maxRamBytes: 12_000_000_000 + i * 8192, maxTemperatureC: 60 + (i % 20),
    utilSamples: 60, meanUtilisation: 0.5 + (i % 50) / 100, source: "nvml",
  };
}

async function telemetrySizeBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { agents: { default: "1" }, days: { default: "30" }, dir: { default: "" } });
  const agents = intFlag("agents", f.agents, 1, 100);
  const days = intFlag("days", f.days, 1, 800);
  return withTempDir("nightshift-bench-telemetry-", parentDirFlag(f.dir), async (dir) => {
    const emptyPath = join(dir, "empty.db");
    const empty = Store.open(emptyPath);
    const baselineBytes = vacuumedBytes(empty, emptyPath);
    empty.close();

    const path = join(dir, "nightshift.db");
    const store = Store.open(path);
    const t0 = Date.UTC(2026, 0, 1);
    let i = 0;
    for (let day = 0; day < days; day++) {
      const rows: TelemetryBucketRow[] = [];
      for (let a = 0; a < agents; a++) for (let m = 0; m < 1440; m++) rows.push(minute(`agent_${a}`, t0 + day * DAY_MS + m * MINUTE_MS, i++));
      store.telemetry.upsert(rows);
      store.telemetry.compact(retentionCutoffs(t0 + (day + 1) * DAY_MS, DEFAULT_TELEMETRY_RETENTION));
    }
    const minuteRows = store.telemetry.count(MINUTE_MS);
    const hourRows = store.telemetry.count(HOUR_MS);
    const bytes = vacuumedBytes(store, path);
    store.close();
    const telemetryBytes = bytes - baselineBytes;
    return {
      bench: "telemetry-size",
      agents, days, retention: DEFAULT_TELEMETRY_RETENTION,
      rowsPerAgent: { minute: minuteRows / agents, hour: hourRows / agents },
      baseline: { emptyStoreBytes: baselineBytes },
      storeBytes: bytes,
      telemetryMBPerAgent: round(telemetryBytes / agents / MB, 3),
      bytesPerRow: round(telemetryBytes / (minuteRows + hourRows), 1),
      ratioToEmptyStore: round(bytes / baselineBytes, 2),
    };
  });
}

runBench(() => telemetrySizeBench(process.argv.slice(2)));
