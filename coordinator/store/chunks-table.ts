import type { Db } from "./open-database.ts";
import { assertTransition } from "../../shared/lifecycle/state-machine.ts";
import { IllegalTransitionError } from "../../shared/errors.ts";
import { CHUNK_TRANSITIONS, type ChunkState } from "../../shared/lifecycle/states.ts";

export interface ChunkRow {
  id: string;
  jobId: string;
  idx: number;
  frameStart: number;
  frameEnd: number;
  contextStart: number;
  contextEnd: number;
  state: ChunkState;
  dispatchId: string | null;
  currentAttemptId: string | null;
  attempts: number;
  failures: number;
  error: string | null;
  updatedAt: number;
  /** The agent whose own subject a queued chunk was published to; null for the shared pool. */
  placedAgentId: string | null;
  /** A speculative copy of a running chunk: its dispatch id, target agent and, once claimed, its attempt. */
  specDispatchId: string | null;
  specAgentId: string | null;
  specAttemptId: string | null;
}

const COLUMNS = `id, job_id AS jobId, idx, frame_start AS frameStart, frame_end AS frameEnd,
  context_start AS contextStart, context_end AS contextEnd, state, dispatch_id AS dispatchId,
  current_attempt_id AS currentAttemptId, attempts, failures, error, updated_at AS updatedAt,
  placed_agent_id AS placedAgentId, spec_dispatch_id AS specDispatchId, spec_agent_id AS specAgentId, spec_attempt_id AS specAttemptId`;

export interface ChunkCounts {
  total: number;
  done: number;
  failed: number;
  cancelled: number;
  open: number;
  framesTotal: number;
  framesDone: number;
}

const COUNT_COLUMNS = `COUNT(*) AS total,
  SUM(state = 'done') AS done, SUM(state = 'failed') AS failed, SUM(state = 'cancelled') AS cancelled,
  SUM(state IN ('pending','queued','running')) AS open,
  SUM(frame_end - frame_start + 1) AS framesTotal,
  SUM(CASE WHEN state = 'done' THEN frame_end - frame_start + 1 ELSE 0 END) AS framesDone`;

const KEPT_COUNT_COLUMNS = `total, done, failed, cancelled, open, frames_total AS framesTotal, frames_done AS framesDone`;

type RawCounts = Record<keyof ChunkCounts, number | null>;

/** A job's unstarted (pending or queued) chunks: how many, their frames, and a bound on the biggest one. */
export interface UnstartedCounts {
  chunks: number;
  frames: number;
  /** At least the frames of the biggest unstarted chunk (the most any chunk of the job ever had); 0 without chunks. */
  biggestBound: number;
}

const EMPTY_COUNTS: RawCounts = { total: 0, done: 0, failed: 0, cancelled: 0, open: 0, framesTotal: 0, framesDone: 0 };

function toCounts(row: RawCounts): ChunkCounts {
  return {
    total: row.total ?? 0,
    done: row.done ?? 0,
    failed: row.failed ?? 0,
    cancelled: row.cancelled ?? 0,
    open: row.open ?? 0,
    framesTotal: row.framesTotal ?? 0,
    framesDone: row.framesDone ?? 0,
  };
}

export class ChunksTable {
  constructor(private readonly db: Db) {}

  insert(chunk: Pick<ChunkRow, "id" | "jobId" | "idx" | "frameStart" | "frameEnd" | "contextStart" | "contextEnd" | "updatedAt">): void {
    this.db
      .prepare(
        `INSERT INTO chunks (id, job_id, idx, frame_start, frame_end, context_start, context_end, state, updated_at)
         VALUES (@id, @jobId, @idx, @frameStart, @frameEnd, @contextStart, @contextEnd, 'pending', @updatedAt)`,
      )
      .run(chunk);
  }

  get(id: string): ChunkRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM chunks WHERE id = ?`).get(id) as ChunkRow | undefined;
  }

  listByJob(jobId: string): ChunkRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM chunks WHERE job_id = ? ORDER BY idx`).all(jobId) as ChunkRow[];
  }

  listByJobInState(jobId: string, state: ChunkState): ChunkRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM chunks WHERE job_id = ? AND state = ? ORDER BY idx`).all(jobId, state) as ChunkRow[];
  }

  countInState(state: ChunkState): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM chunks WHERE state = ?`).get(state) as { n: number }).n;
  }

  /** Pending chunks of jobs that may run, highest job priority first, then oldest job, then frame order. */
  nextPending(limit: number): ChunkRow[] {
    return this.db
      .prepare(
        `SELECT ${COLUMNS.replace(/(^|,\s*)(\w+)/g, "$1c.$2")} FROM chunks c JOIN jobs j ON j.id = c.job_id
         WHERE c.state = 'pending' AND j.state IN ('queued', 'running')
         ORDER BY j.priority DESC, j.created_at ASC, c.idx ASC LIMIT ?`,
      )
      .all(limit) as ChunkRow[];
  }

  /** The job's chunk counts, kept up to date by triggers on the chunks table (migration "job_chunk_counts"). */
  counts(jobId: string): ChunkCounts {
    const row = this.db.prepare(`SELECT ${KEPT_COUNT_COLUMNS} FROM job_chunk_counts WHERE job_id = ?`).get(jobId) as RawCounts | undefined;
    return toCounts(row ?? EMPTY_COUNTS);
  }

  /** counts() of every job (the job listing), keyed by job id; a job without chunks is absent. */
  countsByJob(): Map<string, ChunkCounts> {
    const rows = this.db.prepare(`SELECT job_id AS jobId, ${KEPT_COUNT_COLUMNS} FROM job_chunk_counts WHERE total > 0`).all() as Array<RawCounts & { jobId: string }>;
    return new Map(rows.map((r) => [r.jobId, toCounts(r)]));
  }

  /** The job's unstarted chunks from the kept counts (migration "dispatch: what each pass reads"): one row, whatever the job's size. */
  unstarted(jobId: string): UnstartedCounts {
    const row = this.db.prepare(`SELECT unstarted AS chunks, frames_unstarted AS frames, frames_max AS biggestBound FROM job_chunk_counts WHERE job_id = ?`).get(jobId) as
      | UnstartedCounts
      | undefined;
    return row ?? { chunks: 0, frames: 0, biggestBound: 0 };
  }

  /** unstarted() computed from the chunks themselves, with the exact biggest chunk (tests: the kept values must match, the bound must hold). */
  unstartedCounted(jobId: string): { chunks: number; frames: number; biggest: number } {
    return this.db
      .prepare(
        `SELECT COUNT(*) AS chunks, COALESCE(SUM(frame_end - frame_start + 1), 0) AS frames, COALESCE(MAX(frame_end - frame_start + 1), 0) AS biggest
         FROM chunks WHERE job_id = ? AND state IN ('pending', 'queued')`,
      )
      .get(jobId) as { chunks: number; frames: number; biggest: number };
  }

  /** Chunks waiting on an agent's own subject (queued, placed on it, not claimed yet). */
  placedOn(agentId: string): Array<{ id: string; jobId: string; dispatchId: string | null }> {
    return this.db
      .prepare(`SELECT id, job_id AS jobId, dispatch_id AS dispatchId FROM chunks WHERE state = 'queued' AND placed_agent_id = ?`)
      .all(agentId) as Array<{ id: string; jobId: string; dispatchId: string | null }>;
  }

  /** counts() computed from the chunks themselves: what the kept counts must always equal (tests). */
  countedFromChunks(jobId: string): ChunkCounts {
    return toCounts(this.db.prepare(`SELECT ${COUNT_COLUMNS} FROM chunks WHERE job_id = ?`).get(jobId) as RawCounts);
  }

  /** The one place a chunk changes state. */
  transition(
    id: string,
    to: ChunkState,
    now: number,
    fields: {
      dispatchId?: string | null;
      currentAttemptId?: string | null;
      error?: string | null;
      countAttempt?: boolean;
      countFailure?: boolean;
      /** Where a chunk moving to queued was published (null: the pool); for one claimed straight from pending, its agent. */
      placedAgentId?: string | null;
    } = {},
    /** The chunk's row as the caller read it earlier in the same transaction (not read again); none: read here. */
    current?: ChunkRow,
  ): ChunkRow {
    const chunk = current?.id === id ? current : this.get(id);
    if (!chunk) throw new Error(`no chunk ${id}`);
    assertTransition(`chunk ${id}`, CHUNK_TRANSITIONS, chunk.state, to);
    this.db
      .prepare(
        `UPDATE chunks SET state = @to, updated_at = @now,
           dispatch_id = CASE WHEN @setDispatch THEN @dispatchId ELSE dispatch_id END,
           current_attempt_id = CASE WHEN @setAttempt THEN @currentAttemptId ELSE current_attempt_id END,
           error = CASE WHEN @setError THEN @error ELSE error END,
           attempts = attempts + @countAttempt, failures = failures + @countFailure,
           placed_agent_id = CASE WHEN @setPlaced THEN @placedAgentId ELSE placed_agent_id END,
           spec_dispatch_id = CASE WHEN @to = 'running' THEN spec_dispatch_id END,
           spec_agent_id = CASE WHEN @to = 'running' THEN spec_agent_id END,
           spec_attempt_id = CASE WHEN @to = 'running' THEN spec_attempt_id END
         WHERE id = @id`,
      )
      .run({
        id,
        to,
        now,
        setDispatch: fields.dispatchId !== undefined ? 1 : 0,
        dispatchId: fields.dispatchId ?? null,
        setAttempt: fields.currentAttemptId !== undefined ? 1 : 0,
        currentAttemptId: fields.currentAttemptId ?? null,
        setError: fields.error !== undefined ? 1 : 0,
        error: fields.error ?? null,
        countAttempt: fields.countAttempt ? 1 : 0,
        countFailure: fields.countFailure ? 1 : 0,
        setPlaced: to === "queued" || fields.placedAgentId !== undefined ? 1 : 0,
        placedAgentId: fields.placedAgentId ?? null,
      });
    // The row as the UPDATE above left it, without reading it back (a transition runs inside the caller's transaction).
    const running = to === "running";
    return {
      ...chunk,
      state: to,
      updatedAt: now,
      dispatchId: fields.dispatchId !== undefined ? fields.dispatchId : chunk.dispatchId,
      currentAttemptId: fields.currentAttemptId !== undefined ? fields.currentAttemptId : chunk.currentAttemptId,
      error: fields.error !== undefined ? fields.error : chunk.error,
      attempts: chunk.attempts + (fields.countAttempt ? 1 : 0),
      failures: chunk.failures + (fields.countFailure ? 1 : 0),
      placedAgentId: to === "queued" || fields.placedAgentId !== undefined ? (fields.placedAgentId ?? null) : chunk.placedAgentId,
      specDispatchId: running ? chunk.specDispatchId : null,
      specAgentId: running ? chunk.specAgentId : null,
      specAttemptId: running ? chunk.specAttemptId : null,
    };
  }

  /**
   * transition(id, "queued", now, { dispatchId, placedAgentId }) for a chunk
   * the caller knows to be pending (the dispatch pass, which planned it from
   * a snapshot taken in the same synchronous run): one conditional UPDATE, the
   * row not read first. Throws IllegalTransitionError, changing nothing, when
   * the chunk is not pending (the row is read then, to name its state).
   */
  queuePending(id: string, now: number, dispatchId: string, placedAgentId: string | null): void {
    const r = this.db
      .prepare(
        `UPDATE chunks SET state = 'queued', updated_at = ?, dispatch_id = ?, placed_agent_id = ?,
           spec_dispatch_id = NULL, spec_agent_id = NULL, spec_attempt_id = NULL
         WHERE id = ? AND state = 'pending'`,
      )
      .run(now, dispatchId, placedAgentId, id);
    if (r.changes === 1) return;
    const chunk = this.get(id);
    if (!chunk) throw new Error(`no chunk ${id}`);
    throw new IllegalTransitionError(`chunk ${id}`, chunk.state, "queued");
  }

  /**
   * A running chunk's attempts without a state change: a speculative copy
   * dispatched or claimed, or promoted to be the chunk's current attempt.
   */
  setAttempts(id: string, f: { currentAttemptId?: string | null; specDispatchId?: string | null; specAgentId?: string | null; specAttemptId?: string | null }): void {
    const sets = Object.entries({ current_attempt_id: f.currentAttemptId, spec_dispatch_id: f.specDispatchId, spec_agent_id: f.specAgentId, spec_attempt_id: f.specAttemptId })
      .filter(([, v]) => v !== undefined)
      .map(([col]) => `${col} = @${col}`);
    if (sets.length === 0) return;
    this.db
      .prepare(`UPDATE chunks SET ${sets.join(", ")} WHERE id = @id`)
      .run({ id, current_attempt_id: f.currentAttemptId ?? null, spec_dispatch_id: f.specDispatchId ?? null, spec_agent_id: f.specAgentId ?? null, spec_attempt_id: f.specAttemptId ?? null });
  }

  /** Shortens a pending chunk to its first part when the end of a job is cut (coordinator/scheduling/). */
  shorten(id: string, frameEnd: number, contextEnd: number, now: number): void {
    const r = this.db.prepare(`UPDATE chunks SET frame_end = ?, context_end = ?, updated_at = ? WHERE id = ? AND state = 'pending' AND frame_start <= ?`).run(frameEnd, contextEnd, now, id, frameEnd);
    if (r.changes !== 1) throw new Error(`chunk ${id} cannot be shortened (not pending, or frame ${frameEnd} before its start)`);
  }

  maxIdx(jobId: string): number {
    return (this.db.prepare(`SELECT COALESCE(MAX(idx), -1) AS n FROM chunks WHERE job_id = ?`).get(jobId) as { n: number }).n;
  }
}
