/**
 * When the soak's farm could recover from a fault: a lost chunk can run again
 * only while the coordinator is up and at least one agent is up (its process
 * running and its link up). The soak records every change it makes to either,
 * and measures each recovery from the first moment at or after the fault when
 * recovery was possible, not from the fault itself: while every agent is down,
 * the wait for one to come back is the fault plan's, not the farm's.
 */
export interface AvailabilityChange {
  at: number;
  agentsUp: number;
  coordinatorUp: boolean;
}

export class FarmAvailability {
  private readonly up: boolean[];
  private coordinatorUp = true;
  private readonly changes: AvailabilityChange[] = [];

  constructor(agents: number, at: number) {
    this.up = Array.from({ length: agents }, () => true);
    this.record(at);
  }

  agent(i: number, up: boolean, at: number): void {
    this.up[i] = up;
    this.record(at);
  }

  coordinator(up: boolean, at: number): void {
    this.coordinatorUp = up;
    this.record(at);
  }

  /**
   * The first moment at or after t0 when recovery was possible: an agent up and, unless
   * `coordinatorCounts` is false (a coordinator kill, whose restart is part of its recovery), the
   * coordinator up. Undefined when it never was, as far as the changes recorded so far go.
   */
  possibleFrom(t0: number, coordinatorCounts = true): number | undefined {
    const ok = (c: AvailabilityChange): boolean => c.agentsUp > 0 && (c.coordinatorUp || !coordinatorCounts);
    let before: AvailabilityChange | undefined;
    for (const c of this.changes) {
      if (c.at <= t0) {
        before = c;
        continue;
      }
      if (before && ok(before)) return t0;
      if (ok(c)) return c.at;
      before = c;
    }
    return before && ok(before) ? t0 : undefined;
  }

  private record(at: number): void {
    this.changes.push({ at, agentsUp: this.up.filter(Boolean).length, coordinatorUp: this.coordinatorUp });
  }
}
