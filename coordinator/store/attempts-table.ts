import type { Db } from "./open-database.ts";
import { assertTransition } from "../../shared/lifecycle/state-machine.ts";
import { ATTEMPT_TRANSITIONS, type AttemptState } from "../../shared/lifecycle/states.ts";

export interface AttemptRow {
  id: string;
  chunkId: string;
  jobId: string;
  agentId: string;
  state: AttemptState;
  createdAt: number;
  finishedAt: number | null;
  error: string | null;
}

const COLUMNS = `id, chunk_id AS chunkId, job_id AS jobId, agent_id AS agentId, state, created_at AS createdAt,
  finished_at AS finishedAt, error`;

export class AttemptsTable {
  constructor(private readonly db: Db) {}

  insert(a: Pick<AttemptRow, "id" | "chunkId" | "jobId" | "agentId" | "createdAt">): void {
    this.db
      .prepare(`INSERT INTO attempts (id, chunk_id, job_id, agent_id, state, created_at) VALUES (@id, @chunkId, @jobId, @agentId, 'running', @createdAt)`)
      .run(a);
  }

  get(id: string): AttemptRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM attempts WHERE id = ?`).get(id) as AttemptRow | undefined;
  }

  runningForAgent(agentId: string): AttemptRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM attempts WHERE agent_id = ? AND state = 'running'`).all(agentId) as AttemptRow[];
  }

  /** Every running attempt of an online agent, with the agent's name: one query for the registry's sweep. */
  runningOnOnlineAgents(): Array<AttemptRow & { agentName: string }> {
    return this.db
      .prepare(
        `SELECT a.id, a.chunk_id AS chunkId, a.job_id AS jobId, a.agent_id AS agentId, a.state, a.created_at AS createdAt,
           a.finished_at AS finishedAt, a.error, g.name AS agentName
         FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.state = 'running' AND g.state = 'online'`,
      )
      .all() as Array<AttemptRow & { agentName: string }>;
  }

  listByChunk(chunkId: string): AttemptRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM attempts WHERE chunk_id = ? ORDER BY created_at`).all(chunkId) as AttemptRow[];
  }

  /** Agents whose attempts at this chunk failed, for the poison-chunk rule. */
  failedAgentsForChunk(chunkId: string): string[] {
    const rows = this.db.prepare(`SELECT DISTINCT agent_id AS agentId FROM attempts WHERE chunk_id = ? AND state = 'failed'`).all(chunkId) as Array<{
      agentId: string;
    }>;
    return rows.map((r) => r.agentId);
  }

  /** How many different chunks of a job failed on an agent. */
  failedChunkCount(jobId: string, agentId: string): number {
    return (
      this.db
        .prepare(`SELECT COUNT(DISTINCT chunk_id) AS n FROM attempts WHERE job_id = ? AND agent_id = ? AND state = 'failed'`)
        .get(jobId, agentId) as { n: number }
    ).n;
  }

  /** Attempts per agent and state (Prometheus chunk counters). */
  countsByAgentAndState(): Array<{ agentId: string; state: AttemptState; n: number }> {
    return this.db.prepare(`SELECT agent_id AS agentId, state, COUNT(*) AS n FROM attempts GROUP BY agent_id, state`).all() as Array<{
      agentId: string;
      state: AttemptState;
      n: number;
    }>;
  }

  /** The one place an attempt changes state. */
  finish(
    id: string,
    to: AttemptState,
    now: number,
    error?: string,
    /** The attempt's row as the caller read it earlier in the same transaction (not read again); none: read here. */
    current?: AttemptRow,
  ): void {
    const a = current?.id === id ? current : this.get(id);
    if (!a) throw new Error(`no attempt ${id}`);
    assertTransition(`attempt ${id}`, ATTEMPT_TRANSITIONS, a.state, to);
    this.db.prepare(`UPDATE attempts SET state = ?, finished_at = ?, error = ? WHERE id = ?`).run(to, now, error ?? null, id);
  }
}
