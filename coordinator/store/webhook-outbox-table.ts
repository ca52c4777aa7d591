/**
 * The webhook outbox: one row per (notification, webhook URL), written in the
 * same process step that noticed the event and updated as deliveries are tried,
 * so a coordinator restart resumes every delivery that was not yet made.
 */
import type { Db } from "./open-database.ts";

export type DeliveryState = "pending" | "delivered" | "failed";

export interface OutboxRow {
  id: string;
  dedupeKey: string;
  event: string;
  url: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

const COLUMNS = `id, dedupe_key AS dedupeKey, event, url, body, state, attempts, next_at AS nextAt, last_error AS lastError,
  created_at AS createdAt, delivered_at AS deliveredAt`;

export class WebhookOutboxTable {
  constructor(private readonly db: Db) {}

  /** Adds a delivery unless one with the same dedupe key exists; true when added. */
  add(r: Pick<OutboxRow, "id" | "dedupeKey" | "event" | "url" | "body" | "createdAt">): boolean {
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO webhook_outbox (id, dedupe_key, event, url, body, state, attempts, next_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
      )
      .run(r.id, r.dedupeKey, r.event, r.url, r.body, r.createdAt, r.createdAt);
    return info.changes === 1;
  }

  get(id: string): OutboxRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM webhook_outbox WHERE id = ?`).get(id) as OutboxRow | undefined;
  }

  /** Pending deliveries whose time has come, oldest first. */
  due(now: number, limit: number): OutboxRow[] {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM webhook_outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, created_at LIMIT ?`)
      .all(now, limit) as OutboxRow[];
  }

  /** The earliest next_at of a pending delivery, if any. */
  nextDue(): number | undefined {
    const r = this.db.prepare(`SELECT MIN(next_at) AS t FROM webhook_outbox WHERE state = 'pending'`).get() as { t: number | null };
    return r.t ?? undefined;
  }

  delivered(id: string, now: number): void {
    this.db.prepare(`UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?`).run(now, id);
  }

  /** A failed try: retried at nextAt, or given up (state failed) when nextAt is null. */
  retry(id: string, error: string, nextAt: number | null): void {
    this.db
      .prepare(`UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, state = ?, next_at = COALESCE(?, next_at) WHERE id = ?`)
      .run(error.slice(0, 500), nextAt === null ? "failed" : "pending", nextAt, id);
  }

  /** The newest deliveries, for the dashboard. */
  recent(limit: number): OutboxRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM webhook_outbox ORDER BY created_at DESC, id DESC LIMIT ?`).all(limit) as OutboxRow[];
  }
}
