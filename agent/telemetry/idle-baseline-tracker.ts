import { idleWattsFromReadings } from "../../shared/accounting/idle-baseline.ts";

/**
 * The node's idle draw for the chunk meter's idle baseline. A configured
 * figure (`--idle-watts`) wins. Otherwise it is measured from the agent's own
 * telemetry: the median of the latest `window` readings taken while no chunk
 * ran, nobody else used the GPU, and at least `settleMs` had passed since the
 * last chunk (a GPU stays above idle for a few seconds after work). Null until
 * `minReadings` such readings exist. Pure apart from the state it keeps.
 */
export interface IdleBaselineOptions {
  configuredWatts: number | null;
  window?: number;
  minReadings?: number;
  settleMs?: number;
}

export class IdleBaselineTracker {
  private readonly readings: number[] = [];
  private lastBusyMs = -Infinity;
  private readonly window: number;
  private readonly minReadings: number;
  private readonly settleMs: number;

  constructor(private readonly opts: IdleBaselineOptions) {
    this.window = opts.window ?? 120;
    this.minReadings = opts.minReadings ?? 5;
    this.settleMs = opts.settleMs ?? 5000;
  }

  /** One telemetry reading; `quiet` is false while a chunk runs or someone else uses the GPU. */
  add(tMs: number, watts: number | null, quiet: boolean): void {
    if (!quiet) {
      this.lastBusyMs = tMs;
      return;
    }
    if (watts === null || !Number.isFinite(watts) || watts < 0 || tMs - this.lastBusyMs < this.settleMs) return;
    this.readings.push(watts);
    if (this.readings.length > this.window) this.readings.shift();
  }

  /** Where the figure comes from: "configured", "measured" or "unknown". */
  get basis(): "configured" | "measured" | "unknown" {
    if (this.opts.configuredWatts !== null) return "configured";
    return this.readings.length >= this.minReadings ? "measured" : "unknown";
  }

  current(): number | null {
    if (this.opts.configuredWatts !== null) return this.opts.configuredWatts;
    return this.readings.length >= this.minReadings ? idleWattsFromReadings(this.readings) : null;
  }
}
