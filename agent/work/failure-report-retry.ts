/**
 * A failure report (a chunk failed or handed back) that did not reach the
 * coordinator because it was down or restarting (UNAVAILABLE, or
 * DEADLINE_EXCEEDED after the call waited for the connection) is sent again,
 * so that the chunk is requeued as soon as the coordinator is back instead of
 * waiting for the coordinator to notice the attempt is gone. Bounded: a few
 * tries, each waiting for the connection, then given up (the coordinator's
 * own rule for attempts from before its start still requeues the chunk).
 * Safe to repeat: the coordinator ignores a report for an attempt that is no
 * longer running (already reported, lost, or committed), so a report whose
 * answer was lost, sent again, counts once.
 */
import { status as grpcStatus } from "@grpc/grpc-js";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../shared/log.ts";

export interface FailureReport {
  attemptId: string;
  error: string;
  handedBack: boolean;
}

/** Sends one report (waiting for the connection, bounded) and resolves with the coordinator's outcome. */
export type SendFailureReport = (r: FailureReport) => Promise<string>;

export interface FailureReportRetryOptions {
  /** Tries after the first failed send. Default 4. */
  tries?: number;
  /** Pause between tries, ms (a send that fails at once must not spin). Default 1000. */
  pauseMs?: number;
}

/** True for an error that says the coordinator was not reached, not that it refused the report. */
export function coordinatorUnreached(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === grpcStatus.UNAVAILABLE || code === grpcStatus.DEADLINE_EXCEEDED;
}

export class FailureReportRetry {
  private readonly pending = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly send: SendFailureReport,
    private readonly log: Logger,
    private readonly opts: FailureReportRetryOptions = {},
  ) {}

  /** Attempts whose report is still being retried. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends `report` again in the background after a first send failed with `err`; false (nothing retried)
   * when `err` is not a connectivity failure, when it is already being retried, or after stop().
   */
  retry(report: FailureReport, err: unknown): boolean {
    if (!coordinatorUnreached(err) || this.pending.has(report.attemptId) || this.abort.signal.aborted) return false;
    const run = this.run(report).finally(() => this.pending.delete(report.attemptId));
    this.pending.set(report.attemptId, run);
    return true;
  }

  /** Resolves when every retry now running has ended (delivered or given up). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending.values()]);
  }

  /** Stops retrying (the agent stops); a send in flight is left to end on its own deadline. */
  stop(): void {
    this.abort.abort();
  }

  private async run(report: FailureReport): Promise<void> {
    const tries = this.opts.tries ?? 4;
    for (let i = 1; i <= tries; i++) {
      try {
        await sleep(this.opts.pauseMs ?? 1000, undefined, { signal: this.abort.signal });
      } catch {
        return;
      }
      try {
        const outcome = await this.send(report);
        this.log.info({ attemptId: report.attemptId, outcome, try: i }, "failure report delivered after the coordinator was back");
        return;
      } catch (err) {
        if (!coordinatorUnreached(err)) {
          this.log.warn({ attemptId: report.attemptId, err: (err as Error).message }, "failure report refused on retry; given up");
          return;
        }
      }
    }
    this.log.warn({ attemptId: report.attemptId, tries }, "failure report not delivered; the coordinator will find the attempt abandoned");
  }
}
