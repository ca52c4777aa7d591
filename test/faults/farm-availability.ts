/**
 * When the soak's farm could recover from a fault: a lost chunk can run again
 * only while the coordinator is up and at least one agent is up (its process
 * running and its link up). The soak records every change it makes to either,
 * and counts in each recovery only the time during which recovery was
 * possible: while every agent is down, the wait for one to come back is the
 * fault plan's, not the farm's. Likewise while nats-server is down (killed,
 * until the coordinator's NATS connection is back): no work message can be
 * published or pulled, so no lost chunk can be sent anywhere (tenth round:
 * the soak's plan puts a nats-server kill among its link cuts, and each
 * cut's recovery counted the outage's 5 s).
 */
export interface AvailabilityChange {
  at: number;
  agentsUp: number;
  coordinatorUp: boolean;
  busUp: boolean;
}

export class FarmAvailability {
  private readonly up: boolean[];
  private coordinatorUp = true;
  private busUp = true;
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

  /** nats-server down (killed) or back (the coordinator's NATS connection is back). */
  bus(up: boolean, at: number): void {
    this.busUp = up;
    this.record(at);
  }

  /**
   * Milliseconds between t0 and t1 during which recovery was possible: an agent up and, unless
   * `coordinatorCounts` is false (a coordinator kill, whose restart is part of its recovery), the
   * coordinator up and, unless `busCounts` is false (a nats-server kill, likewise), nats-server up.
   * Time with every agent down (or the coordinator or nats-server down under another fault) is the
   * fault plan's wait, not the farm's, and is left out.
   */
  possibleMs(t0: number, t1: number, coordinatorCounts = true, busCounts = true): number {
    const ok = (c: AvailabilityChange): boolean => c.agentsUp > 0 && (c.coordinatorUp || !coordinatorCounts) && (c.busUp || !busCounts);
    let total = 0;
    for (let i = 0; i < this.changes.length; i++) {
      const c = this.changes[i] as AvailabilityChange;
      const from = Math.max(c.at, t0);
      const to = Math.min(this.changes[i + 1]?.at ?? Number.POSITIVE_INFINITY, t1);
      if (to > from && ok(c)) total += to - from;
    }
    return total;
  }

  private record(at: number): void {
    this.changes.push({ at, agentsUp: this.up.filter(Boolean).length, coordinatorUp: this.coordinatorUp, busUp: this.busUp });
  }
}
