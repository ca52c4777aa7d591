import { BadInputError } from "../errors.ts";
import { compileZoneOffset, type ZoneOffset } from "./zone-offset.ts";

/**
 * Electricity tariffs and the cost of an energy series. Pure; no I/O.
 *
 * A flat tariff has one price per kWh. A time-of-use tariff has periods by
 * local time of day ("07:00"-"23:00" at 0.30, "23:00"-"07:00" at 0.15) in an
 * explicit time zone: an IANA name (daylight saving followed) or a fixed UTC
 * offset. Periods must cover the whole day exactly once; "24:00" may end one.
 *
 * Energy arrives as intervals with the joules used in each. When a price
 * change falls inside an interval, its energy is split in proportion to the
 * time spent on each side (the series says nothing finer about when, within
 * an interval, the energy was used).
 */

export interface TariffPeriodSpec {
  /** Local time "HH:MM" the period starts. */
  from: string;
  /** Local time "HH:MM" the period ends (exclusive); may be earlier than from (crosses midnight). */
  to: string;
  pricePerKwh: number;
}

export type TariffSpec =
  | { kind: "flat"; currency: string; pricePerKwh: number }
  | { kind: "time-of-use"; currency: string; timeZone: string; periods: TariffPeriodSpec[] };

export interface CompiledTariff {
  readonly currency: string;
  readonly zone: ZoneOffset;
  /** Price per kWh for each minute of the local day (1440 entries). */
  readonly priceByMinute: Float64Array;
  /** Minutes of the local day where the price differs from the minute before; empty when flat. */
  readonly changeMinutes: readonly number[];
}

export interface EnergyInterval {
  startMs: number;
  endMs: number;
  joules: number;
}

export interface CostPart {
  pricePerKwh: number;
  kWh: number;
  cost: number;
}

export interface CostBreakdown {
  currency: string;
  kWh: number;
  cost: number;
  /** One entry per distinct price, ascending by price. */
  parts: CostPart[];
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const J_PER_KWH = 3_600_000;

function price(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new BadInputError(`${field}: price per kWh must be a number >= 0, got ${value}`, { field });
  }
  return value;
}

function minuteOfDay(hhmm: string, field: string, allow24: boolean): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  const h = m === null ? NaN : Number(m[1]);
  const min = m === null ? NaN : Number(m[2]);
  const ok = m !== null && min < 60 && (h < 24 || (allow24 && h === 24 && min === 0));
  if (!ok) throw new BadInputError(`${field}: expected a time "HH:MM" (00:00-${allow24 ? "24:00" : "23:59"}), got "${hhmm}"`, { field });
  return h * 60 + min;
}

export function compileTariff(spec: TariffSpec, field = "tariff"): CompiledTariff {
  if (!/^[A-Z]{3}$/.test(spec.currency)) {
    throw new BadInputError(`${field}.currency: expected an ISO 4217 code like EUR, got "${spec.currency}"`, {
      field: `${field}.currency`,
    });
  }
  const byMinute = new Float64Array(1440);
  if (spec.kind === "flat") {
    byMinute.fill(price(spec.pricePerKwh, `${field}.pricePerKwh`));
    return { currency: spec.currency, zone: compileZoneOffset("UTC"), priceByMinute: byMinute, changeMinutes: [] };
  }
  const zone = compileZoneOffset(spec.timeZone, `${field}.timeZone`);
  if (spec.periods.length === 0) {
    throw new BadInputError(`${field}.periods: at least one period is needed`, { field: `${field}.periods` });
  }
  const owner = new Int32Array(1440).fill(-1);
  spec.periods.forEach((p, i) => {
    const f = `${field}.periods[${i}]`;
    const from = minuteOfDay(p.from, `${f}.from`, false);
    const to = minuteOfDay(p.to, `${f}.to`, true);
    const value = price(p.pricePerKwh, `${f}.pricePerKwh`);
    if (from === to % 1440) {
      throw new BadInputError(`${f}: from and to are the same time; split a whole-day price into a flat tariff`, { field: f });
    }
    for (let m = from; m !== to % 1440; m = (m + 1) % 1440) {
      const prior = owner[m] as number;
      if (prior !== -1) {
        throw new BadInputError(`${f}: overlaps periods[${prior}] at minute ${m} of the day`, { field: f });
      }
      owner[m] = i;
      byMinute[m] = value;
    }
  });
  const gap = owner.indexOf(-1);
  if (gap !== -1) {
    const hh = String(Math.floor(gap / 60)).padStart(2, "0");
    const mm = String(gap % 60).padStart(2, "0");
    throw new BadInputError(`${field}.periods: no period covers ${hh}:${mm}`, { field: `${field}.periods` });
  }
  const changeMinutes: number[] = [];
  for (let m = 0; m < 1440; m += 1) {
    if (byMinute[m] !== byMinute[(m + 1439) % 1440]) changeMinutes.push(m);
  }
  return { currency: spec.currency, zone, priceByMinute: byMinute, changeMinutes };
}

function msIntoLocalDay(t: CompiledTariff, tMs: number): number {
  const local = tMs + t.zone.offsetMs(tMs);
  return ((local % DAY_MS) + DAY_MS) % DAY_MS;
}

/** Price per kWh in force at instant tMs (UTC ms). */
export function priceAt(t: CompiledTariff, tMs: number): number {
  return t.priceByMinute[Math.floor(msIntoLocalDay(t, tMs) / MINUTE_MS)] as number;
}

/** The first instant after tMs at which the price may change (a period edge or a UTC-offset change); Infinity if flat. */
export function nextPriceChange(t: CompiledTariff, tMs: number): number {
  if (t.changeMinutes.length === 0) return Infinity;
  const intoDay = msIntoLocalDay(t, tMs);
  const edge = t.changeMinutes.find((m) => m * MINUTE_MS > intoDay);
  const edgeMs = edge === undefined ? (t.changeMinutes[0] as number) * MINUTE_MS + DAY_MS : edge * MINUTE_MS;
  const candidate = tMs + (edgeMs - intoDay);
  const off = t.zone.offsetMs(tMs);
  if (t.zone.fixed || t.zone.offsetMs(candidate) === off) return candidate;
  // The offset changes (daylight saving) before the candidate: stop at the change and look again from there.
  let lo = tMs;
  let hi = candidate;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (t.zone.offsetMs(mid) === off) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Trapezoid energy of each pair of consecutive power samples (sorted by time). */
export function intervalsFromPower(samples: readonly { tMs: number; watts: number }[]): EnergyInterval[] {
  const s = [...samples].sort((a, b) => a.tMs - b.tMs);
  const out: EnergyInterval[] = [];
  for (let i = 0; i + 1 < s.length; i += 1) {
    const a = s[i] as { tMs: number; watts: number };
    const b = s[i + 1] as { tMs: number; watts: number };
    if (b.tMs > a.tMs) out.push({ startMs: a.tMs, endMs: b.tMs, joules: ((a.watts + b.watts) / 2) * ((b.tMs - a.tMs) / 1000) });
  }
  return out;
}

/** Cost of an energy series under a tariff, splitting intervals at price changes in proportion to time. */
export function costOfEnergy(t: CompiledTariff, intervals: readonly EnergyInterval[]): CostBreakdown {
  const byPrice = new Map<number, number>();
  const add = (p: number, joules: number): void => {
    byPrice.set(p, (byPrice.get(p) ?? 0) + joules);
  };
  for (const iv of intervals) {
    if (!(iv.joules > 0) || !Number.isFinite(iv.joules)) continue;
    const span = iv.endMs - iv.startMs;
    if (!(span > 0)) {
      add(priceAt(t, iv.startMs), iv.joules);
      continue;
    }
    let at = iv.startMs;
    // Price edges are at least a minute apart; offset changes add at most a few a day.
    for (let guard = Math.ceil(span / MINUTE_MS) * 2 + 8; at < iv.endMs; guard -= 1) {
      if (guard <= 0) throw new Error("tariff: price edges did not advance (internal error)");
      const end = Math.min(nextPriceChange(t, at), iv.endMs);
      add(priceAt(t, at), (iv.joules * (end - at)) / span);
      at = end;
    }
  }
  const parts = [...byPrice.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([p, joules]) => ({ pricePerKwh: p, kWh: joules / J_PER_KWH, cost: (joules / J_PER_KWH) * p }));
  return {
    currency: t.currency,
    kWh: parts.reduce((sum, p) => sum + p.kWh, 0),
    cost: parts.reduce((sum, p) => sum + p.cost, 0),
    parts,
  };
}
