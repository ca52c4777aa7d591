import { test } from "node:test";
import assert from "node:assert/strict";
import { BadInputError } from "../../shared/errors.ts";
import {
  compileTariff,
  costOfEnergy,
  intervalsFromPower,
  nextPriceChange,
  priceAt,
  type TariffSpec,
} from "../../shared/accounting/tariff.ts";

const KWH = 3_600_000; // joules
const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);
const utc = (iso: string): number => Date.parse(iso);

const dayNight = (timeZone: string): TariffSpec => ({
  kind: "time-of-use",
  currency: "EUR",
  timeZone,
  periods: [
    { from: "07:00", to: "23:00", pricePerKwh: 0.3 },
    { from: "23:00", to: "07:00", pricePerKwh: 0.15 },
  ],
});

test("flat tariff", () => {
  // 2 kWh x 0.25 = 0.50 EUR.
  const t = compileTariff({ kind: "flat", currency: "EUR", pricePerKwh: 0.25 });
  const c = costOfEnergy(t, [{ startMs: 0, endMs: 3_600_000, joules: 2 * KWH }]);
  close(c.cost, 0.5);
  close(c.kWh, 2);
  assert.equal(c.currency, "EUR");
});

test("an interval across 23:00 is split by time (UTC offset)", () => {
  // 22:30-23:30 UTC, 1 kWh spread evenly: 0.5 kWh at 0.30 + 0.5 kWh at 0.15 = 0.15 + 0.075 = 0.225.
  const t = compileTariff(dayNight("+00:00"));
  const c = costOfEnergy(t, [{ startMs: utc("2024-01-15T22:30:00Z"), endMs: utc("2024-01-15T23:30:00Z"), joules: KWH }]);
  close(c.cost, 0.225);
  assert.deepEqual(
    c.parts.map((p) => [p.pricePerKwh, Number(p.kWh.toFixed(9))]),
    [
      [0.15, 0.5],
      [0.3, 0.5],
    ],
  );
});

test("an interval across midnight with three periods", () => {
  // 00-06 at 0.10, 06-23 at 0.30, 23-24 at 0.20. Interval 23:40-00:20 (40 min), 2 kWh:
  // 20 min at 0.20 -> 1 kWh -> 0.20; 20 min at 0.10 -> 1 kWh -> 0.10; total 0.30.
  const t = compileTariff({
    kind: "time-of-use",
    currency: "GBP",
    timeZone: "UTC",
    periods: [
      { from: "00:00", to: "06:00", pricePerKwh: 0.1 },
      { from: "06:00", to: "23:00", pricePerKwh: 0.3 },
      { from: "23:00", to: "24:00", pricePerKwh: 0.2 },
    ],
  });
  const c = costOfEnergy(t, [{ startMs: utc("2024-02-01T23:40:00Z"), endMs: utc("2024-02-02T00:20:00Z"), joules: 2 * KWH }]);
  close(c.cost, 0.3);
});

test("IANA zone: the same UTC hour costs differently in winter and summer", () => {
  const t = compileTariff(dayNight("Europe/Berlin"));
  // Winter (UTC+1): 21:30-22:30 UTC = 22:30-23:30 local -> 0.225 as above.
  const winter = costOfEnergy(t, [{ startMs: utc("2024-01-15T21:30:00Z"), endMs: utc("2024-01-15T22:30:00Z"), joules: KWH }]);
  close(winter.cost, 0.225);
  // Summer (UTC+2): 21:30-22:30 UTC = 23:30-00:30 local -> all night rate, 0.15.
  const summer = costOfEnergy(t, [{ startMs: utc("2024-07-15T21:30:00Z"), endMs: utc("2024-07-15T22:30:00Z"), joules: KWH }]);
  close(summer.cost, 0.15);
});

test("spring-forward: an edge inside the skipped hour", () => {
  // Europe/Berlin, 2024-03-31 01:00 UTC: 02:00 CET jumps to 03:00 CEST.
  // Tariff 00:00-02:30 at 0.10, 02:30-24:00 at 0.20.
  // 00:30-01:30 UTC = 01:30 CET .. 03:30 CEST, 1 kWh:
  //   00:30-01:00 UTC (local 01:30-02:00) at 0.10 -> 0.05
  //   01:00-01:30 UTC (local 03:00-03:30) at 0.20 -> 0.10      total 0.15
  // (A constant +1 h offset would put the edge at 01:30 UTC and charge 0.10.)
  const t = compileTariff({
    kind: "time-of-use",
    currency: "EUR",
    timeZone: "Europe/Berlin",
    periods: [
      { from: "00:00", to: "02:30", pricePerKwh: 0.1 },
      { from: "02:30", to: "24:00", pricePerKwh: 0.2 },
    ],
  });
  const c = costOfEnergy(t, [{ startMs: utc("2024-03-31T00:30:00Z"), endMs: utc("2024-03-31T01:30:00Z"), joules: KWH }]);
  close(c.cost, 0.15);
  assert.equal(nextPriceChange(t, utc("2024-03-31T00:30:00Z")), utc("2024-03-31T01:00:00Z"));
});

test("fall-back: local 02:30 happens twice", () => {
  // Europe/Berlin, 2024-10-27 01:00 UTC: 03:00 CEST goes back to 02:00 CET. Same tariff as above.
  // 00:00-02:00 UTC, 2 kWh evenly (0.5 kWh per half hour):
  //   00:00-00:30 local 02:00-02:30 CEST 0.10 | 00:30-01:00 local 02:30-03:00 CEST 0.20
  //   01:00-01:30 local 02:00-02:30 CET  0.10 | 01:30-02:00 local 02:30-03:00 CET  0.20
  //   -> 1 kWh at 0.10 + 1 kWh at 0.20 = 0.30.
  const t = compileTariff({
    kind: "time-of-use",
    currency: "EUR",
    timeZone: "Europe/Berlin",
    periods: [
      { from: "00:00", to: "02:30", pricePerKwh: 0.1 },
      { from: "02:30", to: "24:00", pricePerKwh: 0.2 },
    ],
  });
  const c = costOfEnergy(t, [{ startMs: utc("2024-10-27T00:00:00Z"), endMs: utc("2024-10-27T02:00:00Z"), joules: 2 * KWH }]);
  close(c.cost, 0.3);
  assert.deepEqual(
    c.parts.map((p) => [p.pricePerKwh, Number(p.kWh.toFixed(9))]),
    [
      [0.1, 1],
      [0.2, 1],
    ],
  );
});

test("power samples become trapezoid intervals", () => {
  // 100 W then 300 W over 1 h: (100+300)/2 x 3600 s = 720 000 J = 0.2 kWh; at a flat 0.5 -> 0.10.
  const iv = intervalsFromPower([
    { tMs: 3_600_000, watts: 300 },
    { tMs: 0, watts: 100 },
  ]);
  assert.deepEqual(iv, [{ startMs: 0, endMs: 3_600_000, joules: 720_000 }]);
  const c = costOfEnergy(compileTariff({ kind: "flat", currency: "USD", pricePerKwh: 0.5 }), iv);
  close(c.cost, 0.1);
});

test("priceAt follows the local clock with a negative offset", () => {
  const t = compileTariff(dayNight("-05:00"));
  // 03:00 UTC = 22:00 local (day rate); 05:00 UTC = 00:00 local (night rate).
  assert.equal(priceAt(t, utc("2024-01-15T03:00:00Z")), 0.3);
  assert.equal(priceAt(t, utc("2024-01-15T05:00:00Z")), 0.15);
});

test("bad tariffs name the offending field", () => {
  const bad = (spec: TariffSpec, field: string): void => {
    assert.throws(
      () => compileTariff(spec),
      (e: unknown) => e instanceof BadInputError && e.field === field,
    );
  };
  bad({ kind: "flat", currency: "euro", pricePerKwh: 0.2 }, "tariff.currency");
  bad({ kind: "flat", currency: "EUR", pricePerKwh: -1 }, "tariff.pricePerKwh");
  bad({ ...dayNight("Mars/Olympus_Mons") }, "tariff.timeZone");
  bad(
    { kind: "time-of-use", currency: "EUR", timeZone: "UTC", periods: [{ from: "07:00", to: "23:00", pricePerKwh: 0.3 }] },
    "tariff.periods",
  );
  bad(
    {
      kind: "time-of-use",
      currency: "EUR",
      timeZone: "UTC",
      periods: [
        { from: "00:00", to: "12:00", pricePerKwh: 0.3 },
        { from: "11:00", to: "24:00", pricePerKwh: 0.1 },
      ],
    },
    "tariff.periods[1]",
  );
  bad(
    { kind: "time-of-use", currency: "EUR", timeZone: "UTC", periods: [{ from: "7:00", to: "07:00", pricePerKwh: 0.3 }] },
    "tariff.periods[0].from",
  );
});
