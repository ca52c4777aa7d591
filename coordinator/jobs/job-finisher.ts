import { EventEmitter } from "node:events";
import type { Store } from "../store/store.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { TERMINAL_JOB_STATES, type JobState } from "../../shared/lifecycle/states.ts";
import { assembleVideo, findFfmpeg } from "../../shared/media/assemble-video.ts";
import type { JobSpecs } from "./job-specs.ts";
import { ffmpegPattern, videoPathFor } from "./job-paths.ts";
import { describeFrameRanges } from "./frame-ranges.ts";

/**
 * Notices when a job has no open chunk left and every committed frame is in
 * place (none waits in staging after a failed rename), and finishes it: failed chunks make
 * the job failed (its finished frames stay, the failed frames are listed);
 * otherwise the assemble step runs (ffmpeg, when present) and the job is done.
 * Emits "changed" (jobId, state?) on every job change, for watchers and
 * waiters; the state, when given, is the job's state at the emit.
 */
export class JobFinisher extends EventEmitter {
  private readonly assembling = new Set<string>();
  /** Jobs whose manifest.json is being written; they end once it is. */
  private readonly finishing = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly specs: JobSpecs,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Writes the job's signed manifest.json at job end and returns its text (coordinator/provenance/job-manifest.ts). */
    private readonly manifest?: { write(job: JobRow, state: string): Promise<string | undefined> },
  ) {
    super();
    this.setMaxListeners(0);
    this.on("changed", (jobId: string) => {
      if (!this.knownEmit) this.openAtLeast.delete(jobId);
    });
  }

  /**
   * After a chunk's commit (the result sink, one call per committed chunk): the job cannot end while its
   * open-chunk floor stays above zero, so no read is needed then; at the floor's last chunk, or with no
   * floor (after a restart, another change), it is check().
   */
  committed(jobId: string): void {
    const left = this.openAtLeast.get(jobId);
    if (left === undefined || left <= 1) {
      this.check(jobId);
      return;
    }
    this.openAtLeast.set(jobId, left - 1);
    this.emitKnown(jobId, "running");
  }

  private emitKnown(jobId: string, state: JobState | undefined): void {
    this.knownEmit = true;
    try {
      this.emit("changed", jobId, state);
    } finally {
      this.knownEmit = false;
    }
  }

  /** Whether committed frames of the job still wait in staging (StagedCommitRetry); set by the coordinator. */
  holdsFrames: (jobId: string) => boolean = () => false;

  /**
   * Per running job, a floor under its open chunk count: the count check() last read, less one per
   * committed() since. Every other path that closes a chunk (a failure, a staged move) runs check(), which
   * reads the count again, and every other job change (cancel, pause, submit, the job's end) emits "changed",
   * which drops the floor; a chunk reopened only raises the true count. So the floor never exceeds the count.
   */
  private readonly openAtLeast = new Map<string, number>();
  /** True while this finisher emits a change it knows (the floor stays); any other "changed" drops the job's floor. */
  private knownEmit = false;

  /**
   * Runs after every chunk change: one statement (the job's state and kept
   * counts), the whole row only when the job ends. Emits "changed" with the
   * state it read when the job is not ending (listeners need not read it
   * again: it is the state as of this synchronous emit), without it when the
   * job may be ending (its state changes under finish()).
   */
  check(jobId: string): void {
    const s = this.store.jobs.stateWithCounts(jobId);
    if (s?.state === "running" && s.open > 0) this.openAtLeast.set(jobId, s.open);
    else this.openAtLeast.delete(jobId);
    if (s === undefined) return;
    let state: JobState | undefined = s.state;
    if ((state === "running" || state === "queued") && s.total > 0 && s.open === 0 && !this.holdsFrames(jobId)) {
      const job = this.store.jobs.get(jobId);
      if (job) this.finish(job, s.failed);
      state = undefined;
    }
    this.emitKnown(jobId, state);
  }

  /**
   * Ends a job with no open chunk: first its manifest.json (from the frames
   * table; frames committed before it held their hashes are read back), then the state change,
   * checked again then, since a chunk may have been requeued meanwhile.
   */
  private finish(job: JobRow, failedChunks: number): void {
    if (!this.manifest) {
      this.conclude(job, failedChunks, undefined);
      return;
    }
    if (this.finishing.has(job.id)) return;
    this.finishing.add(job.id);
    const manifest = this.manifest;
    const p = (async () => {
      const text = await manifest.write(job, failedChunks > 0 ? "failed" : "done");
      this.finishing.delete(job.id);
      const current = this.store.jobs.get(job.id);
      if (current?.state !== "running" && current?.state !== "queued") return;
      const c = this.store.chunks.counts(job.id);
      if (c.open === 0 && !this.holdsFrames(job.id) && c.failed === failedChunks) this.conclude(current, failedChunks, text);
      this.check(job.id); // anything that changed while the manifest was written (written again if the job can still end)
    })()
      .catch((err: unknown) => this.log.error({ jobId: job.id, err: (err as Error).message }, "job end failed"))
      .finally(() => {
        this.finishing.delete(job.id);
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  private conclude(job: JobRow, failedChunks: number, manifestText: string | undefined): void {
    const now = this.clock();
    if (job.state === "queued") this.store.jobs.transition(job.id, "running", now);
    if (failedChunks > 0) {
      const failed = this.store.chunks.listByJobInState(job.id, "failed");
      const ranges = describeFrameRanges(failed.map((c) => [c.frameStart, c.frameEnd] as const));
      const message = `${failedChunks} chunk(s) failed; frames not rendered: ${ranges}; last error: ${failed.at(-1)?.error ?? "unknown"}`;
      this.store.jobs.transition(job.id, "failed", now, message);
      this.log.error({ jobId: job.id, failedChunks }, "job failed");
      return;
    }
    const spec = this.specs.of(job);
    const assemble = spec.steps.find((s) => s.kind === "assemble");
    if (!assemble) {
      this.store.jobs.transition(job.id, "done", now);
      this.log.info({ jobId: job.id }, "job done");
      return;
    }
    this.store.jobs.transition(job.id, "assembling", now);
    const p = this.assemble(job, assemble.crf, manifestText).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async assemble(job: JobRow, crf: number, manifestText?: string): Promise<void> {
    if (this.assembling.has(job.id)) return;
    this.assembling.add(job.id);
    const spec = this.specs.of(job);
    let message: string | null = null;
    let video: string | null = null;
    try {
      if (!findFfmpeg()) {
        message = "ffmpeg not found: frames are kept, no video was assembled (install ffmpeg to get one)";
      } else {
        const out = await assembleVideo({
          framesDir: job.outputDir,
          pattern: ffmpegPattern(spec, job.id),
          startNumber: job.frameStart,
          fps: job.fps,
          outPath: videoPathFor(job, spec),
          crf,
          // Frames in per-shot folders ({shot} in the pattern) are listed one by one, in frame order.
          ...(spec.output.framePattern.includes("{shot") ? { files: this.store.frames.listByJob(job.id).sort((a, b) => a.frame - b.frame).map((f) => f.path) } : {}),
          ...(manifestText === undefined ? {} : { metadata: { nightshift: manifestText } }),
        });
        video = out.path;
      }
    } catch (err) {
      message = `video assembly failed, frames are kept: ${(err as Error).message}`;
      this.log.error({ jobId: job.id, err: (err as Error).message }, "assembly failed");
    } finally {
      this.assembling.delete(job.id);
    }
    this.store.jobs.setVideo(job.id, video, message);
    const current = this.store.jobs.get(job.id);
    if (current?.state === "assembling") this.store.jobs.transition(job.id, "done", this.clock());
    this.log.info({ jobId: job.id, video, message }, "job done");
    this.emit("changed", job.id);
  }

  /** After a restart: jobs that were assembling run their assembly again (it writes to a temp name first). */
  resumeAssembling(): void {
    for (const job of this.store.jobs.listInStates(["assembling"])) {
      const assemble = this.specs.of(job).steps.find((s) => s.kind === "assemble");
      const p = this.assemble(job, assemble?.kind === "assemble" ? assemble.crf : 18).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  /** Resolves with the job once it reaches a terminal state. */
  waitFor(jobId: string, signal?: AbortSignal): Promise<JobRow> {
    return new Promise((resolve, reject) => {
      const test = (): boolean => {
        const job = this.store.jobs.get(jobId);
        if (!job) {
          cleanup();
          reject(new Error(`no job ${jobId}`));
          return true;
        }
        if (TERMINAL_JOB_STATES.includes(job.state)) {
          cleanup();
          resolve(job);
          return true;
        }
        return false;
      };
      // A state given with the event is current (job-finisher's check): a job not ended needs no read.
      const onChange = (id: string, state?: JobState): void => {
        if (id === jobId && (state === undefined || TERMINAL_JOB_STATES.includes(state))) test();
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal?.reason ?? new Error("aborted"));
      };
      const cleanup = (): void => {
        this.off("changed", onChange);
        signal?.removeEventListener("abort", onAbort);
      };
      this.on("changed", onChange);
      signal?.addEventListener("abort", onAbort, { once: true });
      test();
    });
  }

  /** Waits for assemblies in flight (shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
