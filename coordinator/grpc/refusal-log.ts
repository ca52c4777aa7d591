import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";

/**
 * Logs a refused connection at most once per peer address and window (a
 * minute by default): a stranger retrying a bad handshake in a loop must not
 * fill the coordinator's log, yet the admin must see that it happens. The
 * line carries how many refusals from that address the previous window left
 * unlogged. Memory is bounded: the oldest addresses are forgotten first.
 */
export class RefusalLog {
  private readonly windows = new Map<string, { start: number; unlogged: number }>();

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly windowMs = 60_000,
    private readonly maxAddresses = 4096,
  ) {}

  /** One refusal from `address`; returns whether it was logged. */
  refused(address: string, fields: Record<string, unknown>, msg: string): boolean {
    const now = this.clock();
    const w = this.windows.get(address);
    if (w !== undefined && now - w.start < this.windowMs) {
      w.unlogged++;
      return false;
    }
    this.windows.delete(address);
    this.windows.set(address, { start: now, unlogged: 0 });
    while (this.windows.size > this.maxAddresses) this.windows.delete(this.windows.keys().next().value as string);
    this.log.warn({ peer: address, ...fields, unloggedBefore: w?.unlogged ?? 0, windowSeconds: this.windowMs / 1000 }, msg);
    return true;
  }
}
