/**
 * Where a coordinator's start-up time goes: each step's milliseconds, and the
 * time before the first step (the process's own launch: Node, module loading,
 * the TypeScript compile when run from source). Logged with "coordinator
 * ready", so that a restart's share of a recovery can be read from its log
 * (issue 15: the coordinator restart is the slowest recovery).
 */
import { performance } from "node:perf_hooks";

export class StartUpSteps {
  private last: number;
  private readonly steps: Record<string, number> = {};

  /** `now`: milliseconds since the process started (performance.now's origin). */
  constructor(private readonly now: () => number = () => performance.now()) {
    this.last = now();
    this.steps.launch = Math.round(this.last);
  }

  /** Ends the step named `name` (the time since the previous mark). */
  mark(name: string): void {
    const t = this.now();
    this.steps[name] = Math.round(t - this.last);
    this.last = t;
  }

  /** Every step's milliseconds, in order, and `total` since the process started. */
  summary(): Record<string, number> {
    return { ...this.steps, total: Math.round(this.last) };
  }
}
