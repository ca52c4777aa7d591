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
 *
 * Twelfth round: while uploads follow each other, an emptied dir is not
 * removed but kept as a spare, and the next upload's staging dir is that
 * spare renamed (reuse), in line where a mkdir was made before: one journaled
 * change of the staging root either way, and no removal's trip through the
 * thread pool per chunk. What is durable when does not change: the dir's
 * entry in the staging root was never fsynced (mkdir or rename alike), and its
 * frames' entries are fsynced with the dir before the commit. A crash leaves a
 * spare as the empty dir of a committed attempt (removed at start-up, as
 * above) or, renamed, as the dir of an upload that did not commit (deleted).
 * Bounded: at most MAX_SPARES spares (empty dirs); all are removed once no upload took one
 * for SPARE_IDLE_MS, and at drained().
 */
import { renameSync } from "node:fs";
import type { Logger } from "../../shared/log.ts";

/**
 * Emptied staging dirs kept for the next uploads; more are removed at once. About one per agent between two
 * uploads is used (a bench farm of 8 agents filled 8 and still removed a third of its dirs), and an empty dir
 * costs nothing: room for a large farm.
 */
export const MAX_SPARES = 256;
/** Spares no upload took for this long (ms) are removed. */
export const SPARE_IDLE_MS = 250;

export class StagingRemovals {
  private readonly pending = new Set<Promise<void>>();
  /** Emptied staging dirs of answered commits, newest last. */
  private spares: string[] = [];
  private idle: NodeJS.Timeout | undefined;

  /** `removeDir`: one rmdir, or a recursive removal if something is left, off the event loop (StagingWriter#removeDir). */
  constructor(
    private readonly log: Logger,
    private readonly removeDir: (dir: string) => Promise<void>,
  ) {}

  /** An answered commit's emptied staging dir: kept as a spare for the next upload, or removed off the event loop. */
  remove(dir: string): void {
    if (this.spares.length >= MAX_SPARES) return this.removeNow(dir);
    this.spares.push(dir);
    this.armIdle();
  }

  /**
   * Makes `dir` (absent, or an empty dir) by renaming a spare to it, in line;
   * false when there is no spare or the rename failed (the caller makes the
   * dir itself). A spare that failed to rename is removed.
   */
  reuse(dir: string): boolean {
    const spare = this.spares.pop();
    if (spare === undefined) return false;
    try {
      renameSync(spare, dir);
      return true;
    } catch {
      this.removeNow(spare);
      return false;
    }
  }

  /** Settles once every spare and every removal started so far is gone (shutdown, tests). */
  async drained(): Promise<void> {
    this.dropSpares();
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.dropSpares(), SPARE_IDLE_MS);
    this.idle.unref();
  }

  private dropSpares(): void {
    clearTimeout(this.idle);
    this.idle = undefined;
    const spares = this.spares;
    this.spares = [];
    for (const dir of spares) this.removeNow(dir);
  }

  /** Starts removing `dir`, off the event loop. */
  private removeNow(dir: string): void {
    const p = this.removeDir(dir)
      .catch((err: unknown) => this.log.warn({ dir, err: (err as Error).message }, "a committed upload's staging dir could not be removed"))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }
}
