import type { Db } from "./open-database.ts";

/** Largest tool output kept per attempt; the agent already keeps the start and the end within 64 KiB. */
export const MAX_ATTEMPT_LOG_CHARS = 64 * 1024 + 200;

/**
 * The tool output of each chunk attempt (Blender's stdout, a command's
 * stderr), as the agent reported it: shown by `nightshift job logs`.
 */
export class AttemptLogsTable {
  constructor(private readonly db: Db) {}

  put(attemptId: string, text: string, now: number): void {
    this.db
      .prepare(`INSERT INTO attempt_logs (attempt_id, text, updated_at) VALUES (?, ?, ?) ON CONFLICT(attempt_id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`)
      .run(attemptId, text.slice(0, MAX_ATTEMPT_LOG_CHARS), now);
  }

  get(attemptId: string): string | undefined {
    return (this.db.prepare(`SELECT text FROM attempt_logs WHERE attempt_id = ?`).get(attemptId) as { text: string } | undefined)?.text;
  }
}
