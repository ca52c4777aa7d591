import type { Db } from "./open-database.ts";

export interface BlocklistEntry {
  jobId: string;
  agentId: string;
  failures: number;
  lastError: string | null;
  blockedAt: number | null;
}

const COLUMNS = `job_id AS jobId, agent_id AS agentId, failures, last_error AS lastError, blocked_at AS blockedAt`;

/**
 * Failures of one agent on one job's chunks. Past a threshold the agent is
 * blocklisted for that job only: the rest of the farm's work still reaches it.
 */
export class BlocklistTable {
  /** Bumped by every write of this table (also when its transaction rolls back): readers that cache what it says compare it. */
  revision = 0;

  constructor(private readonly db: Db) {}

  /** Counts one failure and blocklists when `block` says so; returns the entry after counting. */
  recordFailure(jobId: string, agentId: string, error: string, block: boolean, now: number): BlocklistEntry {
    this.revision++;
    this.db
      .prepare(
        `INSERT INTO job_agent_failures (job_id, agent_id, failures, last_error) VALUES (?, ?, 1, ?)
         ON CONFLICT(job_id, agent_id) DO UPDATE SET failures = failures + 1, last_error = excluded.last_error`,
      )
      .run(jobId, agentId, error);
    if (block) {
      this.db.prepare(`UPDATE job_agent_failures SET blocked_at = ? WHERE job_id = ? AND agent_id = ? AND blocked_at IS NULL`).run(now, jobId, agentId);
    }
    return this.get(jobId, agentId) as BlocklistEntry;
  }

  get(jobId: string, agentId: string): BlocklistEntry | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM job_agent_failures WHERE job_id = ? AND agent_id = ?`).get(jobId, agentId) as BlocklistEntry | undefined;
  }

  isBlocked(jobId: string, agentId: string): boolean {
    return (this.get(jobId, agentId)?.blockedAt ?? null) !== null;
  }

  blockedForJob(jobId: string): BlocklistEntry[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM job_agent_failures WHERE job_id = ? AND blocked_at IS NOT NULL ORDER BY agent_id`).all(jobId) as BlocklistEntry[];
  }

  blockedForAgent(agentId: string): BlocklistEntry[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM job_agent_failures WHERE agent_id = ? AND blocked_at IS NOT NULL ORDER BY job_id`).all(agentId) as BlocklistEntry[];
  }
}
