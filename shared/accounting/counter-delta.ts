/**
 * Differences of hardware energy counters. Pure; no I/O.
 *
 * RAPL (Linux powercap): `energy_uj` counts up from 0 to `max_energy_range_uj`
 * and then starts again from 0. A smaller reading than the previous one means
 * the counter wrapped once, and the difference is (max - prev) + next. The
 * kernel reports the range as the largest counter value, so a wrap is counted
 * one hardware unit short (a few tens of microjoules): negligible.
 *
 * Two or more wraps between readings cannot be detected: a counter that went
 * round twice looks exactly like one that went round once (or not at all), and
 * the energy is undercounted by whole ranges. The only defence is to read more
 * often than the counter can wrap; `maxSafeReadIntervalMs` gives that bound.
 * (A typical package range is 262143328850 uJ, about 262 kJ: 22 minutes at
 * 200 W.)
 *
 * NVML (`nvmlDeviceGetTotalEnergyConsumption`): millijoules since the driver
 * was loaded, as an unsigned 64-bit integer. It does not wrap in practice
 * (2^64 mJ is about 5.8e8 years at 1 kW); a smaller reading means the driver
 * was reloaded and the difference is unknown.
 */

/** Difference of a counter that wraps to 0 after `maxRange`. Throws RangeError on impossible input. */
export function wrappingCounterDelta(prev: number, next: number, maxRange: number): number {
  if (!(Number.isFinite(maxRange) && maxRange > 0)) {
    throw new RangeError(`counter range must be a positive number, got ${maxRange}`);
  }
  for (const [label, v] of [
    ["prev", prev],
    ["next", next],
  ] as const) {
    if (!Number.isFinite(v) || v < 0 || v > maxRange) {
      throw new RangeError(`counter ${label} ${v} is outside [0, ${maxRange}]`);
    }
  }
  return next >= prev ? next - prev : maxRange - prev + next;
}

/**
 * Difference of a counter that only grows (NVML's 64-bit mJ counter). Accepts
 * bigint readings (koffi returns bigint above 2^53). Returns null when the
 * counter went backwards (driver reload), because the energy is then unknown.
 */
export function monotonicCounterDelta(prev: number | bigint, next: number | bigint): number | null {
  if (typeof prev === "bigint" || typeof next === "bigint") {
    const d = BigInt(next) - BigInt(prev);
    return d < 0n ? null : Number(d);
  }
  if (!Number.isFinite(prev) || !Number.isFinite(next)) return null;
  return next >= prev ? next - prev : null;
}

/**
 * Longest interval between two readings that still sees every wrap, given the
 * counter range in microjoules and the most power the domain can draw.
 */
export function maxSafeReadIntervalMs(maxRangeUj: number, maxWatts: number): number {
  if (!(maxRangeUj > 0) || !(maxWatts > 0)) throw new RangeError("range and watts must be positive");
  return (maxRangeUj / 1e6 / maxWatts) * 1000;
}
