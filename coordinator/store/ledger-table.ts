import type { Db } from "./open-database.ts";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";

export interface LedgerEntry extends ChunkAccounting {
  jobId: string;
  chunkId: string;
  attemptId: string;
  agentId: string;
  frames: number;
  finishedAt: number;
}

const COLUMNS = `job_id AS jobId, chunk_id AS chunkId, attempt_id AS attemptId, agent_id AS agentId, frames,
  wall_seconds AS wallSeconds, busy_seconds AS busySeconds, energy_joules AS energyJoules, energy_source AS energySource,
  idle_energy_joules AS idleEnergyJoules, peak_memory_bytes AS peakMemoryBytes, memory_kind AS memoryKind,
  mean_watts AS meanWatts, 0 AS samples, finished_at AS finishedAt`;

/** The accounting ledger: one row per committed chunk attempt. Append-only. */
export class LedgerTable {
  constructor(private readonly db: Db) {}

  append(e: LedgerEntry): void {
    this.db
      .prepare(
        `INSERT INTO ledger (job_id, chunk_id, attempt_id, agent_id, frames, wall_seconds, busy_seconds, energy_joules,
           energy_source, idle_energy_joules, peak_memory_bytes, memory_kind, mean_watts, finished_at)
         VALUES (@jobId, @chunkId, @attemptId, @agentId, @frames, @wallSeconds, @busySeconds, @energyJoules,
           @energySource, @idleEnergyJoules, @peakMemoryBytes, @memoryKind, @meanWatts, @finishedAt)`,
      )
      .run(e);
  }

  listByJob(jobId: string): LedgerEntry[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM ledger WHERE job_id = ? ORDER BY id`).all(jobId) as LedgerEntry[];
  }

  listSince(sinceMs: number): LedgerEntry[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM ledger WHERE finished_at >= ? ORDER BY id`).all(sinceMs) as LedgerEntry[];
  }

  /** Committed chunks, frames and chunk energy per agent, all time (Prometheus counters). */
  totalsByAgent(): Array<{ agentId: string; chunks: number; frames: number; energyJoules: number }> {
    return this.db
      .prepare(`SELECT agent_id AS agentId, COUNT(*) AS chunks, SUM(frames) AS frames, SUM(energy_joules) AS energyJoules FROM ledger GROUP BY agent_id`)
      .all() as Array<{ agentId: string; chunks: number; frames: number; energyJoules: number }>;
  }
}
