/**
 * Why this file exists: a committed upload's staging dir, emptied by its
 * renames, is removed after the agent has been answered and off the event
 * loop. An rmdir is a journaled change of the staging root: made in line it
 * waited for ext4's journal while other frames synced (1.6 - 3.3 ms a chunk
 * at p50 under load; README, "Result sink: the staging dir removed after the
 * answer"), and before the answer it lengthened every commit by that much.
 * The dir holds nothing the commit needs: the frames are renamed into place
 * and their dirs fsynced before the answer, so a crash before the removal
 * leaves an empty staging dir of a committed attempt, which reconcileStaging
 * removes at start-up (finishStagedAttempt: nothing left to move).
 */
import type { Logger } from "../../shared/log.ts";

export class StagingRemovals {
  private readonly pending = new Set<Promise<void>>();

  /** `removeDir`: one rmdir, or a recursive removal if something is left, off the event loop (StagingWriter#removeDir). */
  constructor(
    private readonly log: Logger,
    private readonly removeDir: (dir: string) => Promise<void>,
  ) {}

  /** Starts removing `dir`, off the event loop. */
  remove(dir: string): void {
    const p = this.removeDir(dir)
      .catch((err: unknown) => this.log.warn({ dir, err: (err as Error).message }, "a committed upload's staging dir could not be removed"))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Settles once every removal started so far is done (shutdown, tests). */
  async drained(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
