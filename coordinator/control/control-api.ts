import type { Store } from "../store/store.ts";
import type { SceneFile } from "../../shared/assets/scene-tree.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { ChunkCounts } from "../store/chunks-table.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { CompiledTariff } from "../../shared/accounting/tariff.ts";
import { stepViews, type StepView } from "../jobs/step-views.ts";
import { BadInputError } from "../../shared/errors.ts";
import { NotFoundError } from "../grpc/grpc-errors.ts";
import { submitJob, type SubmitDeps, type Submitted } from "../jobs/submit-job.ts";
import type { JobFinisher } from "../jobs/job-finisher.ts";
import { collectReport } from "../report/collect-report.ts";
import type { FarmReport } from "../report/report-types.ts";
import { expandFrameRanges } from "../jobs/frame-ranges.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import { videoPathFor } from "../jobs/job-paths.ts";
import { NO_AGENT_LIVE, type AgentLive } from "../telemetry/agent-live-view.ts";
import type { JobProgress } from "../scheduling/job-progress.ts";
import { liveAttempts } from "../scheduling/copy-rules.ts";
import { createRerenderJob, type RerenderJob } from "../provenance/rerender-job.ts";
import type { AttemptToCancel } from "../nats/agent-control.ts";

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
  blocklistedAgents: string[];
  /** Live progress per agent, the job's speed and ETA (coordinator/scheduling/job-progress.ts). */
  agents: JobProgress["agents"];
  framesPerSecond: number;
  etaSeconds: number;
  startedAtMs: number;
  /** The frame steps in chain order and the hash of what each used. */
  steps: StepView[];
  recipeSha256: string;
}

/** One chunk attempt's error and tool output (`nightshift job logs`). */
export interface AttemptLogView {
  chunk: number;
  attemptId: string;
  agent: string;
  state: string;
  error: string;
  log: string;
  createdAtMs: number;
}

const NO_PROGRESS: JobProgress = { agents: [], framesPerSecond: 0, etaSeconds: -1 };

/** What the CLI can ask of the coordinator, independent of gRPC. */
/** What the trust store says about an agent's key, for `nightshift agents`. */
export interface AgentKeyView {
  readonly keyFingerprint: string;
  readonly nameVerified: boolean;
}

export const NO_AGENT_KEY: AgentKeyView = { keyFingerprint: "", nameVerified: false };

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

  /** `sceneTree`: a Blender scene's files, already uploaded to the asset store (empty: the shared root's scene). */
  async submit(specJson: string, baseDir: string, sceneTree: readonly SceneFile[] = []): Promise<Submitted> {
    let raw: unknown;
    try {
      raw = JSON.parse(specJson);
    } catch (err) {
      throw new BadInputError(`job spec is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    const submitted = await submitJob(this.submitDeps, raw, baseDir, sceneTree);
    this.kick();
    this.finisher.emit("changed", submitted.jobId);
    return submitted;
  }

  /** A new job rendering `frames` of done job `id` again, off the agents that made them (nightshift verify --rerender). */
  rerender(id: string, frames: readonly number[]): RerenderJob {
    const r = createRerenderJob(this.store, id, frames, this.clock, this.submitDeps.assets);
    this.kick();
    this.finisher.emit("changed", r.jobId);
    return r;
  }

  private requireJob(id: string): JobRow {
    const job = this.store.jobs.get(id);
    if (!job) throw new NotFoundError(`no job '${id}'`);
    return job;
  }

  job(id: string): JobView {
    return this.view(this.requireJob(id));
  }

  /** Every attempt of the job's chunks (or of chunk `chunk`), oldest first, with its error and tool output. */
  logs(id: string, chunk: number | null): AttemptLogView[] {
    const job = this.requireJob(id);
    const chunks = this.store.chunks.listByJob(job.id).filter((c) => chunk === null || c.idx === chunk);
    if (chunk !== null && chunks.length === 0) throw new BadInputError(`--chunk: job ${id} has no chunk ${chunk}`, { field: "chunk" });
    const names = new Map(this.store.agents.list().map((a) => [a.id, a.name]));
    return chunks.flatMap((c) =>
      this.store.attempts.listByChunk(c.id).map((a) => ({
        chunk: c.idx,
        attemptId: a.id,
        agent: names.get(a.agentId) ?? a.agentId,
        state: a.state,
        error: a.error ?? "",
        log: this.store.attemptLogs.get(a.id) ?? "",
        createdAtMs: a.createdAt,
      })),
    );
  }

  jobs(): JobView[] {
    const counts = this.store.chunks.countsByJob();
    return this.store.jobs.list().map((j) => this.view(j, counts.get(j.id)));
  }

  /** `counts`: the job's chunk counts when the caller read them already (the listing reads all jobs' in one query). */
  view(job: JobRow, counts?: ChunkCounts): JobView {
    const c = counts ?? this.store.chunks.counts(job.id);
    const failed = c.failed > 0 ? this.store.chunks.listByJobInState(job.id, "failed") : [];
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
      blocklistedAgents: this.store.blocklist.blockedForJob(job.id).map((b) => this.store.agents.get(b.agentId)?.name ?? b.agentId),
      ...this.progressOf(job, c.framesDone, c.framesTotal),
      startedAtMs: job.startedAt ?? 0,
      steps: stepViews(this.specs.steps(job)),
      recipeSha256: job.recipeSha256,
    };
  }

  /** Per-agent progress, speed and ETA of a job; set by the coordinator (coordinator/scheduling/progress-source.ts). */
  progressOf: (job: JobRow, framesDone: number, framesTotal: number) => JobProgress = () => NO_PROGRESS;
  /** Tells agents to stop attempts of a cancelled job (NATS <p>.ctl.<agentId>); set by the coordinator. */
  cancelAttempts: (list: AttemptToCancel[]) => void = () => undefined;

  cancel(id: string): JobView {
    const job = this.requireJob(id);
    const stop: AttemptToCancel[] = [];
    this.store.tx(() => {
      const now = this.clock();
      this.store.jobs.transition(id, "cancelled", now, "cancelled by request");
      for (const c of this.store.chunks.listByJob(id)) {
        if (c.state === "done" || c.state === "failed" || c.state === "cancelled") continue;
        if (c.state === "running") {
          for (const a of liveAttempts(this.store, c)) {
            this.store.attempts.finish(a.attemptId, "cancelled", now, "job cancelled");
            stop.push({ ...a, reason: "job cancelled" });
          }
        }
        this.store.chunks.transition(c.id, "cancelled", now, { currentAttemptId: null });
      }
    });
    if (stop.length > 0) this.cancelAttempts(stop);
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

  /** A new priority (higher runs first); queued chunks are re-ordered on the next dispatch pass. */
  setPriority(id: string, priority: number): JobView {
    if (!Number.isInteger(priority) || priority < -100 || priority > 100) {
      throw new BadInputError(`priority: expected a whole number from -100 to 100, got ${priority}`, { field: "priority" });
    }
    this.store.jobs.setPriority(this.requireJob(id).id, priority);
    this.kick();
    this.finisher.emit("changed", id);
    return this.job(id);
  }

  /** Live status, pause note and power per agent; set by the coordinator (coordinator/telemetry/accounting.ts). */
  agentLive: (agentId: string) => AgentLive = () => NO_AGENT_LIVE;

  /** The agent's key fingerprint and whether its name is vouched for (enrolled); set by the coordinator from the trust store. */
  agentKey: (agentId: string) => AgentKeyView = () => NO_AGENT_KEY;

  agents(): AgentRow[] {
    return this.store.agents.list();
  }

  blocklistedJobs(agentId: string): string[] {
    return this.store.blocklist.blockedForAgent(agentId).map((b) => b.jobId);
  }

  /** One job's report, or the night's summary (the last 24 hours) when no job is given. */
  report(jobId?: string): FarmReport {
    if (jobId) this.requireJob(jobId);
    return collectReport(this.store, jobId || undefined, this.tariff, this.clock(), "night");
  }

  videoPath(job: JobRow): string {
    return videoPathFor(job, this.specs.of(job));
  }
}
