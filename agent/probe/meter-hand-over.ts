import type { PowerReading } from "./power-source-types.ts";

/**
 * One agent's chunk meters in turn, so that the energy of each moment counts
 * in exactly one chunk. An ONNX chunk hands the executor slot on when its
 * last frame's compute ends (agent/work/chunk-runner.ts), so the next
 * chunk's meter starts while this one's still runs (its last frame's
 * encoding, upload and commit); before, both meters counted the energy of
 * that interval. Now the meter started last counts from its first reading
 * on, and the one counting before stops at that same reading; when the
 * counting meter stops while an earlier one still runs, the earlier one
 * counts again from the stopping meter's last reading. Wall time and busy
 * time stay each chunk's own; energy and the idle baseline follow the
 * counting time. The agent holds one of these for all its meters
 * (agent/start-agent.ts).
 */
export interface EnergyCounting {
  /** Stops counting at `reading`, taken at `atMs` (null: that reading failed; the last one counted stands). */
  yieldAt(reading: PowerReading | null, atMs: number): void;
  /** Counts again from `reading`, taken at `atMs`. */
  resumeAt(reading: PowerReading | null, atMs: number): void;
}

/** What a meter's first reading did: it counts alone, took over from another, or waits for a good reading. */
export type TakeResult = "alone" | "took" | "waiting";

export class MeterHandOver {
  /** Running meters in the order they started. */
  private readonly running: EnergyCounting[] = [];
  /** The one meter counting now (null when none runs). */
  private counting: EnergyCounting | null = null;

  /**
   * `meter` has taken its first reading. With no meter counting, it counts
   * alone. Otherwise the meter counting until now stops at that reading and
   * `meter` counts from it; but when the reading failed, there is no shared
   * reading to meet at (an energy counter would lose the time between the
   * earlier meter's last reading and the later one's first good one), so the
   * earlier meter keeps counting and `meter` waits: `confirm` with its first
   * good reading hands over then.
   */
  take(meter: EnergyCounting, reading: PowerReading | null, atMs: number): TakeResult {
    const before = this.counting;
    this.running.push(meter);
    if (before === null) {
      this.counting = meter;
      return "alone";
    }
    if (reading === null) return "waiting";
    before.yieldAt(reading, atMs);
    this.counting = meter;
    return "took";
  }

  /**
   * A waiting meter's first good reading: the meter counting until now stops
   * there and `meter` counts from it. Nothing happens (false) when `meter` is
   * not waiting, or a meter started after it runs (that one counts, or will).
   */
  confirm(meter: EnergyCounting, reading: PowerReading, atMs: number): boolean {
    if (this.counting === meter || this.running.at(-1) !== meter) return false;
    this.counting?.yieldAt(reading, atMs);
    this.counting = meter;
    return true;
  }

  /** `meter` has stopped at `reading`; if it was counting, the last meter still running counts from there. */
  release(meter: EnergyCounting, reading: PowerReading | null, atMs: number): void {
    const i = this.running.indexOf(meter);
    if (i < 0) return;
    this.running.splice(i, 1);
    if (this.counting !== meter) return;
    const next = this.running.at(-1) ?? null;
    this.counting = next;
    next?.resumeAt(reading, atMs);
  }
}
