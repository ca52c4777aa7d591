import type { Db } from "./open-database.ts";
import { JobFacts } from "./job-facts.ts";
import { assertTransition } from "../../shared/lifecycle/state-machine.ts";
import { JOB_TRANSITIONS, type JobState } from "../../shared/lifecycle/states.ts";

export interface JobRow {
  id: string;
  name: string;
  state: JobState;
  priority: number;
  specJson: string;
  baseDir: string;
  outputDir: string;
  frameStart: number;
  frameEnd: number;
  fps: number;
  seed: number;
  /** A label for what makes the frames: the model's name, or the first step's kind and id ("blender:render"). */
  modelName: string;
  /**
   * The hash the scheduler keys speed and "already loaded" on: the model's
   * sha256, or the first step's reuse key (a scene's, a workflow's hash).
   */
  modelSha256: string;
  /** The frame steps as agents receive them (WorkStep[] JSON); '[]' on rows older than step kinds. */
  stepsJson: string;
  /** sha256 of the steps JSON: what made every frame of the job (model, scene, workflow hashes, command lines). */
  recipeSha256: string;
  /** Where each shot of the range starts and its number in the edit (ShotStart[] JSON); '[]' without shots. */
  shotsJson: string;
  videoPath: string | null;
  message: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Why a paused job is paused: "request", or "disk-full" (resumes by itself once space is free). */
  pauseReason: string | null;
}

/**
 * Every column of the jobs table, in the order of the full read (listings
 * print rows as they come): its SQL name, its JobRow name, and when it is
 * written: "fixed" at submit and never again (kept per job: job-facts.ts),
 * "live" at submit and changed later, "later" null at submit and set later.
 * The select lists, the insert and the kept facts' trigger derive from it.
 */
const JOB_COLUMNS = [
  ["id", "id", "fixed"],
  ["name", "name", "fixed"],
  ["state", "state", "live"],
  ["priority", "priority", "live"],
  ["spec_json", "specJson", "fixed"],
  ["base_dir", "baseDir", "fixed"],
  ["output_dir", "outputDir", "fixed"],
  ["frame_start", "frameStart", "fixed"],
  ["frame_end", "frameEnd", "fixed"],
  ["fps", "fps", "fixed"],
  ["seed", "seed", "fixed"],
  ["model_name", "modelName", "fixed"],
  ["model_sha256", "modelSha256", "fixed"],
  ["steps_json", "stepsJson", "fixed"],
  ["recipe_sha256", "recipeSha256", "fixed"],
  ["shots_json", "shotsJson", "fixed"],
  ["video_path", "videoPath", "later"],
  ["message", "message", "later"],
  ["created_at", "createdAt", "fixed"],
  ["started_at", "startedAt", "later"],
  ["finished_at", "finishedAt", "later"],
  ["pause_reason", "pauseReason", "later"],
] as const satisfies ReadonlyArray<readonly [string, keyof JobRow, "fixed" | "live" | "later"]>;

type JobColumn = (typeof JOB_COLUMNS)[number];
/** The JobRow fields that change after submit (read on every get(); the rest is kept: job-facts.ts). */
type LiveJobColumns = Extract<JobColumn, readonly [string, string, "live" | "later"]>[1];
/** A job's columns that never change after submit (kept in memory after the first read: job-facts.ts). */
export type FixedJobRow = Omit<JobRow, LiveJobColumns>;
// Every JobRow field has its column: this line does not compile while one is missing from JOB_COLUMNS.
const EVERY_FIELD_HAS_A_COLUMN: Exclude<keyof JobRow, JobColumn[1]> extends never ? true : never = true;
void EVERY_FIELD_HAS_A_COLUMN;

const selectList = (cols: readonly JobColumn[]): string => cols.map(([sql, field]) => (sql === field ? sql : `${sql} AS ${field}`)).join(", ");
const FIXED = JOB_COLUMNS.filter((c) => c[2] === "fixed");
const INSERTED = JOB_COLUMNS.filter((c) => c[2] !== "later");
const COLUMNS = selectList(JOB_COLUMNS);
const LIVE_COLUMNS = selectList(JOB_COLUMNS.filter((c) => c[2] !== "fixed"));
const FIXED_COLUMNS = selectList(FIXED);
const INSERT = `INSERT INTO jobs (${INSERTED.map((c) => c[0]).join(", ")}) VALUES (${INSERTED.map((c) => `@${c[1]}`).join(", ")})`;

/** A new row in the column order of the full read (listings print rows as they come). */
function joinRow(f: FixedJobRow, l: Pick<JobRow, LiveJobColumns>): JobRow {
  return {
    id: f.id, name: f.name, state: l.state, priority: l.priority, specJson: f.specJson, baseDir: f.baseDir, outputDir: f.outputDir,
    frameStart: f.frameStart, frameEnd: f.frameEnd, fps: f.fps, seed: f.seed, modelName: f.modelName, modelSha256: f.modelSha256,
    stepsJson: f.stepsJson, recipeSha256: f.recipeSha256, shotsJson: f.shotsJson, videoPath: l.videoPath, message: l.message,
    createdAt: f.createdAt, startedAt: l.startedAt, finishedAt: l.finishedAt, pauseReason: l.pauseReason,
  };
}

export class JobsTable {
  private readonly facts: JobFacts<FixedJobRow>;

  constructor(private readonly db: Db) {
    this.facts = new JobFacts<FixedJobRow>(db, FIXED.map((c) => c[0]));
  }

  /** Drops every kept job fact (Store.tx, when a transaction rolls back). */
  forgetFacts(): void {
    this.facts.forgetAll();
  }

  insert(job: Pick<JobRow, Extract<JobColumn, readonly [string, string, "fixed" | "live"]>[1]>): void {
    this.db.prepare(INSERT).run(job);
  }

  /** The job's row: its changing columns read now, the rest as kept since its first read (job-facts.ts). */
  get(id: string): JobRow | undefined {
    const live = this.db.prepare(`SELECT ${LIVE_COLUMNS} FROM jobs WHERE id = ?`).get(id) as Pick<JobRow, LiveJobColumns> | undefined;
    if (live === undefined) return undefined;
    const fixed = this.fixedOf(id);
    return fixed && joinRow(fixed, live);
  }

  /** Only the job's columns that never change (id, paths, model, seed, spec): no statement once kept; for per-chunk work that needs no state. */
  fixed(id: string): FixedJobRow | undefined {
    return this.fixedOf(id);
  }

  private fixedOf(id: string): FixedJobRow | undefined {
    return this.facts.of(id, (jobId) => this.db.prepare(`SELECT ${FIXED_COLUMNS} FROM jobs WHERE id = ?`).get(jobId) as FixedJobRow | undefined);
  }

  /** Only the job's state (no spec or steps JSON read): for checks that run on every chunk. */
  stateOf(id: string): JobState | undefined {
    return (this.db.prepare(`SELECT state FROM jobs WHERE id = ?`).get(id) as { state: JobState } | undefined)?.state;
  }

  /**
   * The job's state and its kept chunk counts (migration "job_chunk_counts")
   * in one statement: the job finisher's check after every chunk change, which
   * read them apart (two statements, each its own read transaction).
   */
  stateWithCounts(id: string): { state: JobState; total: number; open: number; failed: number } | undefined {
    return this.db
      .prepare(`SELECT j.state, COALESCE(c.total, 0) AS total, COALESCE(c.open, 0) AS open, COALESCE(c.failed, 0) AS failed FROM jobs j LEFT JOIN job_chunk_counts c ON c.job_id = j.id WHERE j.id = ?`)
      .get(id) as { state: JobState; total: number; open: number; failed: number } | undefined;
  }

  /** The model of each job in these states (no spec or steps JSON read): the dispatcher's check for models not seen yet, every pass. */
  modelsInStates(states: readonly JobState[]): Array<{ name: string; sha256: string }> {
    const marks = states.map(() => "?").join(",");
    return this.db.prepare(`SELECT DISTINCT model_name AS name, model_sha256 AS sha256 FROM jobs WHERE state IN (${marks})`).all(...states) as Array<{ name: string; sha256: string }>;
  }

  list(): JobRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM jobs ORDER BY created_at DESC, id DESC`).all() as JobRow[];
  }

  /** The jobs in these states, highest priority first, then oldest: the changing columns read, the rest kept (job-facts.ts); every dispatch pass lists them. */
  listInStates(states: readonly JobState[]): JobRow[] {
    const marks = states.map(() => "?").join(",");
    const live = this.db
      .prepare(`SELECT id, ${LIVE_COLUMNS} FROM jobs WHERE state IN (${marks}) ORDER BY priority DESC, created_at ASC`)
      .all(...states) as Array<Pick<JobRow, "id" | LiveJobColumns>>;
    const out: JobRow[] = [];
    for (const l of live) {
      const fixed = this.fixedOf(l.id);
      if (fixed) out.push(joinRow(fixed, l));
    }
    return out;
  }

  /** The one place a job changes state. */
  transition(id: string, to: JobState, now: number, message?: string): JobRow {
    const job = this.get(id);
    if (!job) throw new Error(`no job ${id}`);
    if (job.state === to) return job;
    assertTransition(`job ${id}`, JOB_TRANSITIONS, job.state, to);
    const terminal = to === "done" || to === "failed" || to === "cancelled";
    this.db
      .prepare(
        `UPDATE jobs SET state = ?, message = COALESCE(?, message),
           started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at END,
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END
         WHERE id = ?`,
      )
      .run(to, message ?? null, to, now, terminal ? 1 : 0, now, id);
    return this.get(id) as JobRow;
  }

  setVideo(id: string, videoPath: string | null, message: string | null): void {
    this.db.prepare(`UPDATE jobs SET video_path = ?, message = COALESCE(?, message) WHERE id = ?`).run(videoPath, message, id);
  }

  setPauseReason(id: string, reason: string | null): void {
    this.db.prepare(`UPDATE jobs SET pause_reason = ? WHERE id = ?`).run(reason, id);
  }

  setPriority(id: string, priority: number): void {
    this.db.prepare(`UPDATE jobs SET priority = ? WHERE id = ?`).run(priority, id);
  }

  setMessage(id: string, message: string): void {
    this.db.prepare(`UPDATE jobs SET message = ? WHERE id = ?`).run(message, id);
  }
}
