import type { Store } from "../store/store.ts";
import { SpeedBook } from "./speed-book.ts";

interface LedgerSpeedRow {
  id: number;
  agentId: string;
  modelSha256: string;
  frames: number;
  busySeconds: number;
  wallSeconds: number;
}

/**
 * Keeps a SpeedBook up to date from the ledger: each refresh reads only the
 * rows appended since the last one (the ledger is append-only, ids grow).
 */
export class LedgerSpeeds {
  readonly book: SpeedBook;
  private lastId = 0;

  constructor(alpha?: number) {
    this.book = new SpeedBook(alpha);
  }

  refresh(store: Store): SpeedBook {
    const rows = store.db
      .prepare(
        `SELECT l.id AS id, l.agent_id AS agentId, j.model_sha256 AS modelSha256, l.frames AS frames,
           l.busy_seconds AS busySeconds, l.wall_seconds AS wallSeconds
         FROM ledger l JOIN jobs j ON j.id = l.job_id WHERE l.id > ? ORDER BY l.id LIMIT 10000`,
      )
      .all(this.lastId) as LedgerSpeedRow[];
    for (const r of rows) {
      this.book.add(r);
      this.lastId = r.id;
    }
    return this.book;
  }
}
