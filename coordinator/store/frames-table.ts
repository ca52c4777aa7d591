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
  /** sha256 of the frame without its provenance record (the agent's bytes, less any record it sent): what verify checks. */
  sha256: string;
  bytes: number;
  path: string;
  committedAt: number;
  /**
   * sha256 of exactly the bytes the sink fsynced and renamed to `path` at the
   * commit (with the record); null on rows committed before it was recorded.
   */
  fileSha256?: string | null;
  /** The pixel hash the file's own record names; null when it has none, or when fileSha256 is null (not recorded). */
  pixelsSha256?: string | null;
}

const COLUMNS = `job_id AS jobId, frame, chunk_id AS chunkId, attempt_id AS attemptId, agent_id AS agentId,
  model_sha256 AS modelSha256, seed, sha256, bytes, path, committed_at AS committedAt,
  file_sha256 AS fileSha256, pixels_sha256 AS pixelsSha256`;

export class FramesTable {
  constructor(private readonly db: Db) {}

  /** Replaces an earlier row for the same frame (a re-render after its file went missing). */
  upsert(f: FrameRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO frames (job_id, frame, chunk_id, attempt_id, agent_id, model_sha256, seed, sha256, bytes, path, committed_at, file_sha256, pixels_sha256)
         VALUES (@jobId, @frame, @chunkId, @attemptId, @agentId, @modelSha256, @seed, @sha256, @bytes, @path, @committedAt, @fileSha256, @pixelsSha256)`,
      )
      .run({ ...f, fileSha256: f.fileSha256 ?? null, pixelsSha256: f.fileSha256 == null ? null : (f.pixelsSha256 ?? null) });
  }

  listByJob(jobId: string): FrameRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM frames WHERE job_id = ? ORDER BY frame`).all(jobId) as FrameRow[];
  }

  countByJob(jobId: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM frames WHERE job_id = ?`).get(jobId) as { n: number }).n;
  }
}
