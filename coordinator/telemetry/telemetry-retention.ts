/**
 * How long telemetry is kept, and at what resolution. Pure.
 *
 * Minute buckets are kept for `minuteDays`; older ones are merged into hour
 * buckets (whole hours only, so an hour is never half minutes, half hour),
 * which are kept for `hourDays`. With the defaults (7 days, 400 days) one
 * agent holds at most 7 x 1440 = 10 080 minute rows plus 24 rows per further
 * day: a month of history is 10 080 + 23 x 24 = 10 632 rows.
 */
export interface TelemetryRetention {
  minuteDays: number;
  hourDays: number;
}

export const DEFAULT_TELEMETRY_RETENTION: TelemetryRetention = { minuteDays: 7, hourDays: 400 };

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface RetentionCutoffs {
  /** Minute buckets starting before this (an hour boundary) become hour buckets. */
  coarsenBeforeMs: number;
  /** Hour buckets starting before this are deleted. */
  deleteBeforeMs: number;
}

export function retentionCutoffs(nowMs: number, r: TelemetryRetention): RetentionCutoffs {
  if (!(r.minuteDays > 0) || !(r.hourDays >= r.minuteDays)) {
    throw new RangeError(`telemetry retention: need minuteDays > 0 and hourDays >= minuteDays, got ${r.minuteDays}, ${r.hourDays}`);
  }
  return {
    coarsenBeforeMs: Math.floor((nowMs - r.minuteDays * DAY_MS) / HOUR_MS) * HOUR_MS,
    deleteBeforeMs: nowMs - r.hourDays * DAY_MS,
  };
}
