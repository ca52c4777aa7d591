import type { Db } from "./open-database.ts";
import { coarsenBuckets, combineBuckets, type TelemetryBucketRow } from "../telemetry/telemetry-bucket.ts";
import { HOUR_MS, type RetentionCutoffs } from "../telemetry/telemetry-retention.ts";

const COLUMNS = `agent_id AS agentId, bucket_ms AS bucketMs, start_ms AS startMs, samples, busy_samples AS busySamples,
  idle_energy_joules AS idleEnergyJoules, watts_samples AS wattsSamples, min_watts AS minWatts, mean_watts AS meanWatts, max_watts AS maxWatts,
  energy_joules AS energyJoules, max_vram_bytes AS maxVramBytes, max_ram_bytes AS maxRamBytes,
  max_temperature_c AS maxTemperatureC, util_samples AS utilSamples, mean_utilisation AS meanUtilisation, source`;

/** Downsampled agent telemetry: minute buckets, and hour buckets for older history (coordinator/telemetry/). */
export class TelemetryTable {
  constructor(private readonly db: Db) {}

  /** Writes buckets; one that already exists (same agent, size, start) is combined with what is stored. */
  upsert(rows: readonly TelemetryBucketRow[]): void {
    if (rows.length === 0) return;
    const get = this.db.prepare(`SELECT ${COLUMNS} FROM telemetry WHERE agent_id = ? AND bucket_ms = ? AND start_ms = ?`);
    const put = this.db.prepare(
      `INSERT OR REPLACE INTO telemetry (agent_id, bucket_ms, start_ms, samples, busy_samples, idle_energy_joules, watts_samples, min_watts, mean_watts,
         max_watts, energy_joules, max_vram_bytes, max_ram_bytes, max_temperature_c, util_samples, mean_utilisation, source)
       VALUES (@agentId, @bucketMs, @startMs, @samples, @busySamples, @idleEnergyJoules, @wattsSamples, @minWatts, @meanWatts,
         @maxWatts, @energyJoules, @maxVramBytes, @maxRamBytes, @maxTemperatureC, @utilSamples, @meanUtilisation, @source)`,
    );
    this.db.transaction(() => {
      for (const r of rows) {
        const stored = get.get(r.agentId, r.bucketMs, r.startMs) as TelemetryBucketRow | undefined;
        put.run(stored === undefined ? r : combineBuckets(stored, r));
      }
    })();
  }

  /** Buckets overlapping [fromMs, toMs), oldest first; minute and hour buckets both. */
  list(q: { agentId?: string; fromMs: number; toMs: number }): TelemetryBucketRow[] {
    const where = q.agentId === undefined ? "" : "AND agent_id = @agentId";
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM telemetry WHERE start_ms < @toMs AND start_ms + bucket_ms > @fromMs ${where} ORDER BY start_ms, agent_id`)
      .all({ fromMs: q.fromMs, toMs: q.toMs, ...(q.agentId === undefined ? {} : { agentId: q.agentId }) }) as TelemetryBucketRow[];
  }

  /** Highest mean power of a bucket in which the agent was busy the whole time, since sinceMs; null when none. */
  busyWatts(agentId: string, sinceMs: number): number | null {
    const r = this.db
      .prepare(`SELECT max(mean_watts) AS w FROM telemetry WHERE agent_id = ? AND start_ms >= ? AND busy_samples = samples AND samples > 0`)
      .get(agentId, sinceMs) as { w: number | null };
    return r.w;
  }

  count(bucketMs?: number): number {
    const r = (bucketMs === undefined
      ? this.db.prepare(`SELECT count(*) AS n FROM telemetry`).get()
      : this.db.prepare(`SELECT count(*) AS n FROM telemetry WHERE bucket_ms = ?`).get(bucketMs)) as { n: number };
    return r.n;
  }

  /** Merges old minute buckets into hour buckets and drops expired hours, in one transaction. Returns rows changed. */
  compact(c: RetentionCutoffs): { coarsened: number; hourRows: number; deleted: number } {
    return this.db.transaction(() => {
      const fine = this.db
        .prepare(`SELECT ${COLUMNS} FROM telemetry WHERE bucket_ms < ? AND start_ms < ?`)
        .all(HOUR_MS, c.coarsenBeforeMs) as TelemetryBucketRow[];
      const hours = coarsenBuckets(fine.filter((r) => HOUR_MS % r.bucketMs === 0), HOUR_MS);
      this.upsert(hours);
      this.db.prepare(`DELETE FROM telemetry WHERE bucket_ms < ? AND start_ms < ?`).run(HOUR_MS, c.coarsenBeforeMs);
      const deleted = this.db.prepare(`DELETE FROM telemetry WHERE start_ms + bucket_ms <= ?`).run(c.deleteBeforeMs).changes;
      return { coarsened: fine.length, hourRows: hours.length, deleted };
    })();
  }
}
