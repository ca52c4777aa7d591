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

/** Every queued chunk: where it waits (an agent's subject, or the pool when agentId is null). */
export function queuedChunks(store: Store): Array<{ chunkId: string; jobId: string; agentId: string | null; frames: number }> {
  return store.db
    .prepare(`SELECT id AS chunkId, job_id AS jobId, placed_agent_id AS agentId, frame_end - frame_start + 1 AS frames FROM chunks WHERE state = 'queued'`)
    .all() as Array<{ chunkId: string; jobId: string; agentId: string | null; frames: number }>;
}

/** What an agent's heartbeat said of an attempt's progress. */
export interface AttemptProgress {
  framesDone: number;
  elapsedMs: number;
  sentAtMs: number;
}

/**
 * Running attempts with their chunk's size, speculation state and reported
 * progress, built in one loop from rows SQLite already shaped (a running
 * attempt is read on every pass for every busy agent).
 */
export function runningAttempts(store: Store, progress: ReadonlyMap<string, AttemptProgress>): RunningWork[] {
  const rows = store.db
    .prepare(
      `SELECT a.id AS attemptId, a.chunk_id AS chunkId, a.job_id AS jobId, a.agent_id AS agentId, a.created_at AS startedAtMs,
         c.frame_end - c.frame_start + 1 AS frames, c.spec_attempt_id IS a.id AS speculative, c.spec_dispatch_id IS NOT NULL AS hasCopy
       FROM attempts a JOIN chunks c ON c.id = a.chunk_id WHERE a.state = 'running'`,
    )
    .all() as Array<{ attemptId: string; chunkId: string; jobId: string; agentId: string; startedAtMs: number; frames: number; speculative: 0 | 1; hasCopy: 0 | 1 }>;
  const out: RunningWork[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as (typeof rows)[number];
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
      speculative: r.speculative === 1,
      hasCopy: r.hasCopy === 1,
    };
  }
  return out;
}

/** Up to `limit` pending chunks of one job, in frame order. */
export function pendingOfJob(store: Store, jobId: string, limit: number): PendingChunk[] {
  return store.db
    .prepare(`SELECT id, job_id AS jobId, frame_end - frame_start + 1 AS frames FROM chunks WHERE job_id = ? AND state = 'pending' ORDER BY idx LIMIT ?`)
    .all(jobId, limit) as PendingChunk[];
}

export function unstartedChunks(store: Store, jobId: string): UnstartedChunk[] {
  return store.db
    .prepare(
      `SELECT id, job_id AS jobId, idx, frame_start AS frameStart, frame_end AS frameEnd, context_start AS contextStart, context_end AS contextEnd,
         state, placed_agent_id AS placedAgentId FROM chunks WHERE job_id = ? AND state IN ('pending', 'queued') ORDER BY frame_start`,
    )
    .all(jobId) as UnstartedChunk[];
}
