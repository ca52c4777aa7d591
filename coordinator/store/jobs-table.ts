import type { Db } from "./open-database.ts";
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

const COLUMNS = `id, name, state, priority, spec_json AS specJson, base_dir AS baseDir, output_dir AS outputDir,
  frame_start AS frameStart, frame_end AS frameEnd, fps, seed, model_name AS modelName, model_sha256 AS modelSha256,
  steps_json AS stepsJson, recipe_sha256 AS recipeSha256, shots_json AS shotsJson, video_path AS videoPath, message, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt, pause_reason AS pauseReason`;

export class JobsTable {
  constructor(private readonly db: Db) {}

  insert(job: Omit<JobRow, "videoPath" | "message" | "startedAt" | "finishedAt" | "pauseReason">): void {
    this.db
      .prepare(
        `INSERT INTO jobs (id, name, state, priority, spec_json, base_dir, output_dir, frame_start, frame_end, fps, seed,
          model_name, model_sha256, steps_json, recipe_sha256, shots_json, created_at)
         VALUES (@id, @name, @state, @priority, @specJson, @baseDir, @outputDir, @frameStart, @frameEnd, @fps, @seed,
          @modelName, @modelSha256, @stepsJson, @recipeSha256, @shotsJson, @createdAt)`,
      )
      .run(job);
  }

  get(id: string): JobRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
  }

  /** Only the job's state (no spec or steps JSON read): for checks that run on every chunk. */
  stateOf(id: string): JobState | undefined {
    return (this.db.prepare(`SELECT state FROM jobs WHERE id = ?`).get(id) as { state: JobState } | undefined)?.state;
  }

  /** The model of each job in these states (no spec or steps JSON read): the dispatcher's check for models not seen yet, every pass. */
  modelsInStates(states: readonly JobState[]): Array<{ name: string; sha256: string }> {
    const marks = states.map(() => "?").join(",");
    return this.db.prepare(`SELECT DISTINCT model_name AS name, model_sha256 AS sha256 FROM jobs WHERE state IN (${marks})`).all(...states) as Array<{ name: string; sha256: string }>;
  }

  list(): JobRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM jobs ORDER BY created_at DESC, id DESC`).all() as JobRow[];
  }

  listInStates(states: readonly JobState[]): JobRow[] {
    const marks = states.map(() => "?").join(",");
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM jobs WHERE state IN (${marks}) ORDER BY priority DESC, created_at ASC`)
      .all(...states) as JobRow[];
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
