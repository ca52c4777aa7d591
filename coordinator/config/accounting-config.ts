import { z } from "zod";
import { BadInputError } from "../../shared/errors.ts";
import { parseHostPort } from "../../shared/host-port.ts";
import { DEFAULT_TELEMETRY_RETENTION, type TelemetryRetention } from "../telemetry/telemetry-retention.ts";

/**
 * The accounting part of the coordinator config: the studio power budget,
 * the Prometheus endpoint and how long telemetry is kept. Spread into the
 * coordinator's config schema; compiled once at start-up.
 */
export const accountingConfigFields = {
  /** Studio power budget in watts: the dispatcher starts no chunk that would push the farm's measured draw over it. */
  powerBudgetWatts: z.number().positive().max(100_000_000).optional(),
  /** HOST:PORT for GET /metrics (Prometheus); off when absent. */
  metricsListen: z.string().optional(),
  /** Telemetry retention: minute buckets for minuteDays, then hour buckets until hourDays. */
  telemetry: z
    .strictObject({
      minuteDays: z.number().min(0.05).max(366).default(DEFAULT_TELEMETRY_RETENTION.minuteDays),
      hourDays: z.number().min(0.05).max(3660).default(DEFAULT_TELEMETRY_RETENTION.hourDays),
    })
    .default({ ...DEFAULT_TELEMETRY_RETENTION }),
};

export interface AccountingConfig {
  powerBudgetWatts: number | null;
  metrics: { host: string; port: number } | null;
  telemetryRetention: TelemetryRetention;
}

export function compileAccountingConfig(c: { powerBudgetWatts?: number; metricsListen?: string; telemetry: TelemetryRetention }): AccountingConfig {
  if (c.telemetry.hourDays < c.telemetry.minuteDays) {
    throw new BadInputError(`coordinator config: telemetry.hourDays (${c.telemetry.hourDays}) must be >= telemetry.minuteDays (${c.telemetry.minuteDays})`, {
      field: "telemetry.hourDays",
    });
  }
  return {
    powerBudgetWatts: c.powerBudgetWatts ?? null,
    metrics: c.metricsListen === undefined ? null : parseHostPort(c.metricsListen, "metricsListen"),
    telemetryRetention: { minuteDays: c.telemetry.minuteDays, hourDays: c.telemetry.hourDays },
  };
}
