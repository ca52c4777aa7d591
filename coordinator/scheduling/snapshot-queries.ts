import type { Store } from "../store/store.ts";
import type { GpuRecord } from "../store/agents-table.ts";
import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import { parseJsonOnce, parseKindsOnce } from "../store/parsed-columns.ts";
import type { PendingChunk, RunningWork, UnstartedChunk } from "./scheduling-types.ts";

/**
 * The reads of one dispatch pass, shaped for the scheduler and kept cheap:
 * a pass runs after every commit, so each read uses an index and the agents'
 * JSON columns are parsed once per distinct text.
 */

export interface OnlineAgentRow {
  id: string;
  name: string;
  gpus: GpuRecord[];
  tags: string[];
  ramBytes: number;
  kinds: KindCapability[];
}

export function onlineAgents(store: Store): OnlineAgentRow[] {
  const rows = store.db
    .prepare(`SELECT id, name, gpus_json AS gpusJson, tags_json AS tagsJson, ram_bytes AS ramBytes, executors_json AS kindsJson FROM agents WHERE state = 'online' ORDER BY name, id`)
    .all() as Array<{ id: string; name: string; gpusJson: string; tagsJson: string; ramBytes: number; kindsJson: string }>;
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    gpus: parseJsonOnce<GpuRecord[]>(r.gpusJson),
    tags: parseJsonOnce<string[]>(r.tagsJson),
    ramBytes: r.ramBytes,
    kinds: parseKindsOnce(r.kindsJson),
  }));
}

/** A queued chunk: where it waits (an agent's subject, or the pool when agentId is null). */
export interface QueuedChunk {
  chunkId: string;
  jobId: string;
  agentId: string | null;
  frames: number;
}

const QUEUED_COLUMNS = `id AS chunkId, job_id AS jobId, placed_agent_id AS agentId, frame_end - frame_start + 1 AS frames`;

/** Every queued chunk, pool first, then by agent, each in insertion order (the order of the chunks_by_state index: no sort). */
export function queuedChunks(store: Store): QueuedChunk[] {
  return store.db.prepare(`SELECT ${QUEUED_COLUMNS} FROM chunks WHERE state = 'queued' ORDER BY placed_agent_id, rowid`).all() as QueuedChunk[];
}

/** queuedChunks() with each chunk's rowid (its place in that order), in no particular order. */
export function queuedChunksWithSeq(store: Store): Array<QueuedChunk & { seq: number }> {
  return store.db.prepare(`SELECT ${QUEUED_COLUMNS}, rowid AS seq FROM chunks WHERE state = 'queued'`).all() as Array<QueuedChunk & { seq: number }>;
}

/** One chunk as queuedChunks() gives it, with its rowid (its place in that order); undefined when it is not queued. */
export function queuedChunk(store: Store, chunkId: string): (QueuedChunk & { seq: number }) | undefined {
  return store.db.prepare(`SELECT ${QUEUED_COLUMNS}, rowid AS seq FROM chunks WHERE id = ? AND state = 'queued'`).get(chunkId) as (QueuedChunk & { seq: number }) | undefined;
}

/** What an agent's heartbeat said of an attempt's progress. */
export interface AttemptProgress {
  framesDone: number;
  elapsedMs: number;
  sentAtMs: number;
}

/** A running attempt as the store holds it, with its chunk's size and speculation state (no progress: that is the heartbeats'). */
export interface RunningRow {
  attemptId: string;
  chunkId: string;
  jobId: string;
  agentId: string;
  startedAtMs: number;
  frames: number;
  speculative: boolean;
  hasCopy: boolean;
}

type RawRunningRow = Omit<RunningRow, "speculative" | "hasCopy"> & { speculative: 0 | 1; hasCopy: 0 | 1 };

const RUNNING_SELECT = `SELECT a.id AS attemptId, a.chunk_id AS chunkId, a.job_id AS jobId, a.agent_id AS agentId, a.created_at AS startedAtMs,
    c.frame_end - c.frame_start + 1 AS frames, c.spec_attempt_id IS a.id AS speculative, c.spec_dispatch_id IS NOT NULL AS hasCopy
  FROM attempts a JOIN chunks c ON c.id = a.chunk_id`;

const runningRow = (r: RawRunningRow): RunningRow => ({
  attemptId: r.attemptId,
  chunkId: r.chunkId,
  jobId: r.jobId,
  agentId: r.agentId,
  startedAtMs: r.startedAtMs,
  frames: r.frames,
  speculative: r.speculative === 1,
  hasCopy: r.hasCopy === 1,
});

/** Every running attempt, in insertion order (the order of the attempts_by_state index: no sort). */
export function runningRows(store: Store): RunningRow[] {
  return (store.db.prepare(`${RUNNING_SELECT} WHERE a.state = 'running' ORDER BY a.rowid`).all() as RawRunningRow[]).map(runningRow);
}

/** One attempt as runningRows() gives it; undefined when it is not running. */
export function runningAttempt(store: Store, attemptId: string): RunningRow | undefined {
  const r = store.db.prepare(`${RUNNING_SELECT} WHERE a.id = ? AND a.state = 'running'`).get(attemptId) as RawRunningRow | undefined;
  return r && runningRow(r);
}

/**
 * Running attempts with their reported progress, built in one loop (a
 * running attempt is read on every pass for every busy agent).
 */
export function withProgress(rows: readonly RunningRow[], progress: ReadonlyMap<string, AttemptProgress>): RunningWork[] {
  const out: RunningWork[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as RunningRow;
    const p = progress.get(r.attemptId);
    out[i] = {
      attemptId: r.attemptId,
      chunkId: r.chunkId,
      jobId: r.jobId,
      agentId: r.agentId,
      frames: r.frames,
      startedAtMs: r.startedAtMs,
      framesDone: p?.framesDone ?? null,
      elapsedMs: p?.elapsedMs ?? null,
      reportedAtMs: p?.sentAtMs ?? null,
      speculative: r.speculative,
      hasCopy: r.hasCopy,
    };
  }
  return out;
}

/** Running attempts with their chunk's size, speculation state and reported progress, read from the store. */
export function runningAttempts(store: Store, progress: ReadonlyMap<string, AttemptProgress>): RunningWork[] {
  return withProgress(runningRows(store), progress);
}

/** Up to `limit` pending chunks of one job, in frame order. */
export function pendingOfJob(store: Store, jobId: string, limit: number): PendingChunk[] {
  return store.db
    .prepare(`SELECT id, job_id AS jobId, frame_end - frame_start + 1 AS frames FROM chunks WHERE job_id = ? AND state = 'pending' ORDER BY idx LIMIT ?`)
    .all(jobId, limit) as PendingChunk[];
}

export function unstartedChunks(store: Store, jobId: string): UnstartedChunk[] {
  const rows = store.db
    .prepare(
      `SELECT id, job_id AS jobId, idx, frame_start AS frameStart, frame_end AS frameEnd, context_start AS contextStart, context_end AS contextEnd,
         state, placed_agent_id AS placedAgentId, attempts FROM chunks WHERE job_id = ? AND state IN ('pending', 'queued') ORDER BY frame_start`,
    )
    .all(jobId) as Array<Omit<UnstartedChunk, "tried"> & { attempts: number }>;
  return rows.map(({ attempts, ...c }) => ({ ...c, tried: attempts > 0 }));
}
