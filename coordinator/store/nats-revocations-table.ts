import type { Db } from "./open-database.ts";

/**
 * NATS user keys taken back: each removed agent's public nkey and when. The
 * coordinator signs them into the nightshift account JWT's revocation list
 * (coordinator/trust/nats-operator-keys.ts), so every server refuses that
 * user from then on. Public keys only; rows are never deleted (a revoked key
 * stays revoked, even if the agent enrolls again with a new one).
 */
export class NatsRevocationsTable {
  constructor(private readonly db: Db) {}

  /** Revokes `userNkey` as of `at` (ms); a key revoked earlier keeps its first time. */
  revoke(userNkey: string, agentId: string, at: number): void {
    this.db
      .prepare(`INSERT INTO nats_revocations (user_nkey, agent_id, revoked_at) VALUES (?, ?, ?) ON CONFLICT(user_nkey) DO NOTHING`)
      .run(userNkey, agentId, at);
  }

  /** Public key -> unix seconds, as the account JWT's `revocations` wants them. */
  asClaims(): Record<string, number> {
    const rows = this.db.prepare(`SELECT user_nkey AS k, revoked_at AS at FROM nats_revocations ORDER BY user_nkey`).all() as Array<{ k: string; at: number }>;
    return Object.fromEntries(rows.map((r) => [r.k, Math.ceil(r.at / 1000)]));
  }
}
