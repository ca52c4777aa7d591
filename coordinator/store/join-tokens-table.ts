import type { Db } from "./open-database.ts";
import type { JoinTokenRecord, JoinTokenRepository } from "../trust/join-tokens.ts";

interface RawToken {
  hash: string;
  createdAt: number;
  expiresAt: number | null;
  multiUse: number;
  label: string | null;
  usedAt: number | null;
  useCount: number;
}

const COLUMNS = `hash, created_at AS createdAt, expires_at AS expiresAt, multi_use AS multiUse, label, used_at AS usedAt, use_count AS useCount`;

/** Join tokens in SQLite (sha256 of the secret only). Implements the repository JoinTokens uses. */
export class JoinTokensTable implements JoinTokenRepository {
  constructor(private readonly db: Db) {}

  insert(r: JoinTokenRecord): void {
    this.db
      .prepare(
        `INSERT INTO join_tokens (hash, created_at, expires_at, multi_use, label, used_at, use_count)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.hash, r.createdAt, r.expiresAt, r.multiUse ? 1 : 0, r.label, r.usedAt, r.useCount);
  }

  findByHash(hash: string): JoinTokenRecord | undefined {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM join_tokens WHERE hash = ?`).get(hash) as RawToken | undefined;
    return r ? { ...r, multiUse: r.multiUse === 1 } : undefined;
  }

  /** One statement, so a single-use token is used once even when two enrollments race. */
  markUsed(hash: string, at: number): boolean {
    const info = this.db
      .prepare(
        `UPDATE join_tokens SET used_at = COALESCE(used_at, ?), use_count = use_count + 1
         WHERE hash = ? AND (multi_use = 1 OR used_at IS NULL)`,
      )
      .run(at, hash);
    return info.changes === 1;
  }
}
