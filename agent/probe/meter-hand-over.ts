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

export class MeterHandOver {
  /** Running meters in the order they took over; the last one counts. */
  private readonly running: EnergyCounting[] = [];

  /** `meter` counts from its first reading; the meter counting until now stops at it. Says whether one did. */
  take(meter: EnergyCounting, reading: PowerReading | null, atMs: number): boolean {
    const before = this.running.at(-1);
    before?.yieldAt(reading, atMs);
    this.running.push(meter);
    return before !== undefined;
  }

  /** `meter` has stopped at `reading`; if it was counting, the meter before it (still running) counts again from there. */
  release(meter: EnergyCounting, reading: PowerReading | null, atMs: number): void {
    const i = this.running.indexOf(meter);
    if (i < 0) return;
    const wasCounting = i === this.running.length - 1;
    this.running.splice(i, 1);
    if (wasCounting) this.running.at(-1)?.resumeAt(reading, atMs);
  }
}
