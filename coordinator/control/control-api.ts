import type { Store } from "../store/store.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { CompiledTariff } from "../../shared/accounting/tariff.ts";
import { BadInputError } from "../../shared/errors.ts";
import { NotFoundError } from "../grpc/grpc-errors.ts";
import { submitJob, type SubmitDeps, type Submitted } from "../jobs/submit-job.ts";
import type { JobFinisher } from "../jobs/job-finisher.ts";
import { buildReport } from "../report/build-report.ts";
import type { FarmReport } from "../report/report-types.ts";
import { expandFrameRanges } from "../jobs/frame-ranges.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import { videoPathFor } from "../jobs/job-paths.ts";

export interface JobView {
  id: string;
  name: string;
  state: string;
  priority: number;
  framesTotal: number;
  framesDone: number;
  chunksTotal: number;
  chunksDone: number;
  chunksFailed: number;
  outputDir: string;
  videoPath: string;
  message: string;
  createdAtMs: number;
  finishedAtMs: number;
  failedFrames: number[];
}

const NIGHT_MS = 24 * 3600 * 1000;

/** What the CLI can ask of the coordinator, independent of gRPC. */
export class ControlApi {
  constructor(
    private readonly store: Store,
    private readonly submitDeps: SubmitDeps,
    private readonly finisher: JobFinisher,
    private readonly specs: JobSpecs,
    private readonly tariff: { compiled: CompiledTariff; label: string },
    private readonly clock: Clock,
    private readonly kick: () => void,
  ) {}

  async submit(specJson: string, baseDir: string): Promise<Submitted> {
    let raw: unknown;
    try {
      raw = JSON.parse(specJson);
    } catch (err) {
      throw new BadInputError(`job spec is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    const submitted = await submitJob(this.submitDeps, raw, baseDir);
    this.kick();
    this.finisher.emit("changed", submitted.jobId);
    return submitted;
  }

  private requireJob(id: string): JobRow {
    const job = this.store.jobs.get(id);
    if (!job) throw new NotFoundError(`no job '${id}'`);
    return job;
  }

  job(id: string): JobView {
    return this.view(this.requireJob(id));
  }

  jobs(): JobView[] {
    return this.store.jobs.list().map((j) => this.view(j));
  }

  view(job: JobRow): JobView {
    const c = this.store.chunks.counts(job.id);
    const failed = this.store.chunks.listByJobInState(job.id, "failed");
    return {
      id: job.id,
      name: job.name,
      state: job.state,
      priority: job.priority,
      framesTotal: c.framesTotal,
      framesDone: c.framesDone,
      chunksTotal: c.total,
      chunksDone: c.done,
      chunksFailed: c.failed,
      outputDir: job.outputDir,
      videoPath: job.videoPath ?? "",
      message: job.message ?? "",
      createdAtMs: job.createdAt,
      finishedAtMs: job.finishedAt ?? 0,
      failedFrames: expandFrameRanges(failed.map((f) => [f.frameStart, f.frameEnd] as const)),
    };
  }

  cancel(id: string): JobView {
    const job = this.requireJob(id);
    this.store.tx(() => {
      const now = this.clock();
      this.store.jobs.transition(id, "cancelled", now, "cancelled by request");
      for (const c of this.store.chunks.listByJob(id)) {
        if (c.state === "done" || c.state === "failed" || c.state === "cancelled") continue;
        if (c.currentAttemptId && c.state === "running") this.store.attempts.finish(c.currentAttemptId, "cancelled", now, "job cancelled");
        this.store.chunks.transition(c.id, "cancelled", now, { currentAttemptId: null });
      }
    });
    this.finisher.emit("changed", job.id);
    return this.job(id);
  }

  pause(id: string): JobView {
    this.store.jobs.transition(this.requireJob(id).id, "paused", this.clock(), "paused by request");
    this.store.jobs.setPauseReason(id, "request");
    this.finisher.emit("changed", id);
    return this.job(id);
  }

  resume(id: string): JobView {
    this.requireJob(id);
    this.store.jobs.transition(id, "running", this.clock(), "resumed by request");
    this.store.jobs.setPauseReason(id, null);
    this.kick();
    this.finisher.check(id);
    return this.job(id);
  }

  agents(): AgentRow[] {
    return this.store.agents.list();
  }

  report(jobId?: string): FarmReport {
    const now = this.clock();
    const jobs = jobId ? [this.requireJob(jobId)] : this.store.jobs.list().filter((j) => j.createdAt >= now - NIGHT_MS);
    const ledger = jobId ? this.store.ledger.listByJob(jobId) : this.store.ledger.listSince(now - NIGHT_MS);
    return buildReport({
      ledger,
      agents: this.store.agents.list(),
      jobs,
      tariff: this.tariff.compiled,
      tariffLabel: this.tariff.label,
      nowMs: now,
      fromMs: jobId ? (jobs[0]?.createdAt ?? now) : now - NIGHT_MS,
    });
  }

  videoPath(job: JobRow): string {
    return videoPathFor(job, this.specs.of(job));
  }
}
