import { statfsSync } from "node:fs";
import type { JobRow } from "../store/jobs-table.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";

export const DISK_FULL = "disk-full";

export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return Number(s.bavail) * Number(s.bsize);
}

function formatMiB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * A full output root pauses the job instead of failing it: the refused attempt
 * is handed back (not counted as a failure), its staged frames are already
 * gone, and the job resumes by itself once `minFreeBytes` are free again.
 *
 * The free space is polled only while a job waits for it (paused by
 * onDiskFull, or found so at start after a restart); an idle coordinator
 * read the jobs table every 2 s for it before.
 */
export class DiskFullGuard {
  private timer: NodeJS.Timeout | undefined;
  /** Set by start(); null before it and after stop(). */
  private periodMs: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly outputRoot: string,
    private readonly minFreeBytes: number,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onChange: (jobId: string) => void,
    private readonly free: (path: string) => number = freeBytes,
  ) {}

  onDiskFull(jobId: string, attemptId: string): void {
    const paused = this.store.tx(() => {
      const now = this.clock();
      const attempt = this.store.attempts.get(attemptId);
      if (attempt?.state === "running") {
        this.store.attempts.finish(attemptId, "handed-back", now, "output root full");
        const chunk = this.store.chunks.get(attempt.chunkId);
        if (chunk?.state === "running" && chunk.currentAttemptId === attemptId) {
          this.store.chunks.transition(chunk.id, "pending", now, { currentAttemptId: null, dispatchId: null });
        }
      }
      const job = this.store.jobs.get(jobId);
      if (!job || (job.state !== "running" && job.state !== "queued")) return false;
      const message = `paused: the output root ${this.outputRoot} is full (${formatMiB(this.safeFree())} free); no partial frame was kept, and the job resumes by itself once ${formatMiB(this.minFreeBytes)} are free`;
      this.store.jobs.transition(jobId, "paused", now, message);
      this.store.jobs.setPauseReason(jobId, DISK_FULL);
      return true;
    });
    if (paused) {
      this.log.error({ jobId, outputRoot: this.outputRoot }, "output root full: job paused");
      this.watch();
    }
    this.onChange(jobId);
  }

  private safeFree(): number {
    try {
      return this.free(this.outputRoot);
    } catch {
      return 0;
    }
  }

  /** Resumes jobs paused for lack of space when there is room again. Returns the resumed job ids. */
  check(): string[] {
    const waiting = this.waiting();
    if (waiting.length === 0) {
      this.stopWatching(); // resumed by hand, or cancelled
      return [];
    }
    const free = this.safeFree();
    if (free < this.minFreeBytes) return [];
    const resumed: string[] = [];
    for (const j of waiting) {
      this.store.jobs.transition(j.id, "running", this.clock(), `resumed: ${formatMiB(free)} free in the output root`);
      this.store.jobs.setPauseReason(j.id, null);
      resumed.push(j.id);
      this.log.info({ jobId: j.id, freeBytes: free }, "space freed: job resumed");
      this.onChange(j.id);
    }
    this.stopWatching(); // every job that waited runs again
    return resumed;
  }

  private waiting(): JobRow[] {
    return this.store.jobs.listInStates(["paused"]).filter((j) => j.pauseReason === DISK_FULL);
  }

  /** Checks every periodMs while a job waits for space (one paused before a restart included). */
  start(periodMs = 2000): void {
    this.periodMs = periodMs;
    if (this.waiting().length > 0) this.watch();
  }

  /** Polls the free space until no job waits for it any more (resumed here, or by hand, or cancelled). */
  private watch(): void {
    if (this.periodMs === null || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      try {
        this.check();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "disk check failed");
      }
    }, this.periodMs);
    this.timer.unref();
  }

  private stopWatching(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  stop(): void {
    this.periodMs = null;
    this.stopWatching();
  }
}
