import { BadInputError } from "../errors.ts";

/**
 * The offset of local time from UTC at an instant, for an IANA zone
 * ("Europe/Berlin") or a fixed offset ("UTC", "Z", "+01:00", "-05:30").
 * IANA zones follow daylight saving through the runtime's ICU data.
 */
export interface ZoneOffset {
  /** As configured. */
  readonly zone: string;
  /** True for a fixed offset (no daylight saving). */
  readonly fixed: boolean;
  /** Local time minus UTC, in milliseconds, at instant tMs (UTC ms). */
  offsetMs(tMs: number): number;
}

const FIXED = /^(?:UTC|Z|(?:UTC)?([+-])(\d{2}):(\d{2}))$/;

export function compileZoneOffset(zone: string, field = "timeZone"): ZoneOffset {
  const m = FIXED.exec(zone);
  if (m !== null) {
    let ms = 0;
    if (m[1] !== undefined) {
      const h = Number(m[2]);
      const min = Number(m[3]);
      if (h > 14 || min > 59) throw new BadInputError(`${field}: offset ${zone} is out of range`, { field });
      ms = (m[1] === "-" ? -1 : 1) * (h * 60 + min) * 60_000;
    }
    return { zone, fixed: true, offsetMs: () => ms };
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch (cause) {
    throw new BadInputError(
      `${field}: unknown time zone "${zone}" (use an IANA name like Europe/Berlin, or an offset like +01:00)`,
      { field, cause },
    );
  }
  return {
    zone,
    fixed: false,
    offsetMs(tMs: number): number {
      const whole = Math.floor(tMs / 1000) * 1000;
      const parts: Record<string, number> = {};
      for (const p of fmt.formatToParts(new Date(whole))) {
        if (p.type !== "literal") parts[p.type] = Number(p.value);
      }
      const local = Date.UTC(
        parts.year ?? 1970,
        (parts.month ?? 1) - 1,
        parts.day ?? 1,
        parts.hour ?? 0,
        parts.minute ?? 0,
        parts.second ?? 0,
      );
      return local - whole;
    },
  };
}
