import type { Store } from "../store/store.ts";
import type { Logger } from "../../shared/log.ts";
import { finishStagedAttempt } from "./reconcile-staging.ts";

/**
 * Committed attempts whose frames could not be renamed into place (something
 * squats on a target path, a directory lost its permissions): their fsynced
 * frames wait in staging and are moved in every `everyMs` until that works,
 * with an error in the log on each failed try so the admin sees what blocks
 * them. A restart hands whatever is left to reconcileStaging.
 */
export class StagedCommitRetry {
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly outputRoot: string,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly everyMs = 5000,
  ) {}

  add(attemptId: string): void {
    this.waiting.add(attemptId);
    if (!this.timer) {
      this.timer = setInterval(() => this.tryNow(), this.everyMs);
      this.timer.unref();
    }
  }

  /** Tries each waiting attempt once; returns how many still wait. */
  tryNow(): number {
    for (const attemptId of [...this.waiting]) {
      try {
        const moved = finishStagedAttempt(this.outputRoot, this.store, attemptId);
        this.waiting.delete(attemptId);
        this.log.warn({ attemptId, moved }, "staged frames of a committed attempt moved into place");
      } catch (err) {
        this.log.error({ attemptId, err: (err as Error).message }, "committed frames still in staging: cannot move them into place");
      }
    }
    if (this.waiting.size === 0) this.stop();
    return this.waiting.size;
  }

  get pending(): number {
    return this.waiting.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
