import type { Db } from "./open-database.ts";

/** One committed frame: the audit trail a studio can show a client. */
export interface FrameRow {
  jobId: string;
  frame: number;
  chunkId: string;
  attemptId: string;
  agentId: string;
  modelSha256: string;
  seed: number;
  sha256: string;
  bytes: number;
  path: string;
  committedAt: number;
}

const COLUMNS = `job_id AS jobId, frame, chunk_id AS chunkId, attempt_id AS attemptId, agent_id AS agentId,
  model_sha256 AS modelSha256, seed, sha256, bytes, path, committed_at AS committedAt`;

export class FramesTable {
  constructor(private readonly db: Db) {}

  /** Replaces an earlier row for the same frame (a re-render after its file went missing). */
  upsert(f: FrameRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO frames (job_id, frame, chunk_id, attempt_id, agent_id, model_sha256, seed, sha256, bytes, path, committed_at)
         VALUES (@jobId, @frame, @chunkId, @attemptId, @agentId, @modelSha256, @seed, @sha256, @bytes, @path, @committedAt)`,
      )
      .run(f);
  }

  listByJob(jobId: string): FrameRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM frames WHERE job_id = ? ORDER BY frame`).all(jobId) as FrameRow[];
  }

  countByJob(jobId: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM frames WHERE job_id = ?`).get(jobId) as { n: number }).n;
  }
}
