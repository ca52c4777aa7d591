import type { Clock } from "../../shared/clock.ts";

/** A clock that only moves when told to, for code that takes an injected Clock. */
export interface ManualClock {
  now: Clock;
  advance(ms: number): void;
}

export function manualClock(startMs = Date.UTC(2025, 0, 1)): ManualClock {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}
