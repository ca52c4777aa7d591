import { monotonicCounterDelta, wrappingCounterDelta } from "../../shared/accounting/counter-delta.ts";
import type { EnergyCounterReading, PowerReading } from "../probe/power-source-types.ts";

/**
 * Energy between two consecutive readings of one power source. Pure.
 *
 * Counter differences when both readings carry every counter and each one
 * moved sensibly (RAPL wrap handled, an NVML counter that went backwards after
 * a driver reload is unusable); otherwise the trapezoid of the two power
 * readings; otherwise nothing (0 J, method "none").
 */
export type EnergyMethod = "counter" | "integrated" | "none";

export interface EnergyStep {
  joules: number;
  method: EnergyMethod;
}

function counterJoules(prev: EnergyCounterReading, next: EnergyCounterReading): number | null {
  try {
    const units = next.maxRange === null ? monotonicCounterDelta(prev.value, next.value) : wrappingCounterDelta(prev.value, next.value, next.maxRange);
    return units === null ? null : units * next.joulesPerUnit;
  } catch {
    return null; // a reading outside the counter's range
  }
}

function countersBetween(prev: readonly EnergyCounterReading[] | null, next: readonly EnergyCounterReading[] | null): number | null {
  if (prev === null || next === null || prev.length === 0) return null;
  let joules = 0;
  for (const p of prev) {
    const n = next.find((c) => c.id === p.id);
    const j = n === undefined ? null : counterJoules(p, n);
    if (j === null) return null;
    joules += j;
  }
  return joules;
}

export function energyStep(prev: PowerReading | null, next: PowerReading): EnergyStep {
  if (prev === null) return { joules: 0, method: "none" };
  const fromCounters = countersBetween(prev.counters, next.counters);
  if (fromCounters !== null && Number.isFinite(fromCounters)) return { joules: fromCounters, method: "counter" };
  const dt = (next.tMs - prev.tMs) / 1000;
  if (prev.watts !== null && next.watts !== null && dt > 0 && Number.isFinite(prev.watts) && Number.isFinite(next.watts)) {
    return { joules: ((prev.watts + next.watts) / 2) * dt, method: "integrated" };
  }
  return { joules: 0, method: "none" };
}
