import type { Store } from "../store/store.ts";
import type { Logger } from "../../shared/log.ts";
import { finishStagedAttempt } from "./reconcile-staging.ts";

/**
 * Committed attempts whose frames could not be renamed into place (something
 * squats on a target path, a directory lost its permissions): their fsynced
 * frames wait in staging and are moved in every `everyMs` until that works,
 * with an error in the log on each failed try so the admin sees what blocks
 * them. A restart hands whatever is left to reconcileStaging. While a job
 * has frames waiting here it is not finished (`holds`); `onMoved` tells the
 * caller when they are in place, so the job can finish then.
 */
export class StagedCommitRetry {
  /** attemptId -> its jobId */
  private readonly waiting = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly outputRoot: string,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly everyMs = 5000,
  ) {}

  /** Told the job id of an attempt whose frames were moved into place; set by the coordinator. */
  onMoved: (jobId: string) => void = () => undefined;

  add(attemptId: string): void {
    this.waiting.set(attemptId, this.store.attempts.get(attemptId)?.jobId ?? "");
    if (!this.timer) {
      this.timer = setInterval(() => this.tryNow(), this.everyMs);
      this.timer.unref();
    }
  }

  /** Tries each waiting attempt once; returns how many still wait. */
  tryNow(): number {
    for (const [attemptId, jobId] of [...this.waiting]) {
      try {
        const moved = finishStagedAttempt(this.outputRoot, this.store, attemptId);
        this.waiting.delete(attemptId);
        this.log.warn({ attemptId, moved }, "staged frames of a committed attempt moved into place");
        this.onMoved(jobId);
      } catch (err) {
        this.log.error({ attemptId, err: (err as Error).message }, "committed frames still in staging: cannot move them into place");
      }
    }
    if (this.waiting.size === 0) this.stop();
    return this.waiting.size;
  }

  /** Whether some committed frames of the job still wait in staging. */
  holds(jobId: string): boolean {
    for (const j of this.waiting.values()) if (j === jobId) return true;
    return false;
  }

  get pending(): number {
    return this.waiting.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
