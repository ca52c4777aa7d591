import type { Db } from "./open-database.ts";

/** How an agent was let in, its certificate and its NATS user (public nkey). One row per agent id. */
export interface EnrollmentRow {
  agentId: string;
  /** SPKI PEM the agent enrolled (or asked for approval) with; null for an agent approved before it asked. */
  publicKeyPem: string | null;
  method: "token" | "approval" | null;
  /** When the agent was let in (token redeemed or admin approval); null while it waits. */
  approvedAt: number | null;
  certPem: string | null;
  /** sha256 of the issued certificate's DER: the only certificate accepted for this agent. */
  certFingerprint: string | null;
  /** Public nkey of the agent's NATS user; the seed is a 0600 file (coordinator/trust/nats-user-keys.ts). */
  natsNkey: string | null;
  enrolledAt: number | null;
  removedAt: number | null;
}

const COLUMNS = `agent_id AS agentId, public_key_pem AS publicKeyPem, method, approved_at AS approvedAt, cert_pem AS certPem,
  cert_fingerprint AS certFingerprint, nats_nkey AS natsNkey, enrolled_at AS enrolledAt, removed_at AS removedAt`;

/** What the peer guard checks on every gRPC call of an agent (coordinator/trust/peer-guard.ts). */
export interface AgentTrustRow {
  certFingerprint: string | null;
  removedAt: number | null;
  /** The agent's state in the agents table; null when it has no row there. */
  agentState: string | null;
}

export class EnrollmentsTable {
  constructor(private readonly db: Db) {}

  /**
   * Only what decides whether an agent's call is let in, in one statement:
   * get() also reads the PEM texts, and the guard asks on every call.
   */
  trustOf(agentId: string): AgentTrustRow | undefined {
    return this.db
      .prepare(
        `SELECT e.cert_fingerprint AS certFingerprint, e.removed_at AS removedAt, a.state AS agentState
         FROM agent_enrollments e LEFT JOIN agents a ON a.id = e.agent_id WHERE e.agent_id = ?`,
      )
      .get(agentId) as AgentTrustRow | undefined;
  }

  get(agentId: string): EnrollmentRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM agent_enrollments WHERE agent_id = ?`).get(agentId) as EnrollmentRow | undefined;
  }

  /** Agents that hold a certificate and were not removed: the NATS users. */
  listActive(): EnrollmentRow[] {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM agent_enrollments WHERE cert_fingerprint IS NOT NULL AND removed_at IS NULL ORDER BY agent_id`)
      .all() as EnrollmentRow[];
  }

  /**
   * Agents waiting for an admin: asked without a token, not approved, not
   * removed, still pending. Agents already let in but not yet joined do not
   * count (they wait for nobody).
   */
  countAwaitingApproval(): number {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS n FROM agent_enrollments e JOIN agents a ON a.id = e.agent_id
         WHERE e.approved_at IS NULL AND e.removed_at IS NULL AND a.state = 'pending'`,
      )
      .get() as { n: number };
    return row.n;
  }

  /** Records the key an agent asked with (keeps an earlier approval). */
  recordRequest(agentId: string, publicKeyPem: string): void {
    this.db
      .prepare(
        `INSERT INTO agent_enrollments (agent_id, public_key_pem) VALUES (?, ?)
         ON CONFLICT(agent_id) DO UPDATE SET public_key_pem = excluded.public_key_pem`,
      )
      .run(agentId, publicKeyPem);
  }

  approve(agentId: string, method: "token" | "approval", at: number): void {
    this.db
      .prepare(
        `INSERT INTO agent_enrollments (agent_id, method, approved_at) VALUES (?, ?, ?)
         ON CONFLICT(agent_id) DO UPDATE SET method = COALESCE(method, excluded.method), approved_at = COALESCE(approved_at, excluded.approved_at)`,
      )
      .run(agentId, method, at);
  }

  recordCertificate(agentId: string, c: { certPem: string; certFingerprint: string; natsNkey: string; at: number }): void {
    this.db
      .prepare(
        `UPDATE agent_enrollments SET cert_pem = ?, cert_fingerprint = ?, nats_nkey = ?, enrolled_at = ? WHERE agent_id = ?`,
      )
      .run(c.certPem, c.certFingerprint, c.natsNkey, c.at, agentId);
  }

  recordNatsNkey(agentId: string, natsNkey: string): void {
    this.db.prepare(`UPDATE agent_enrollments SET nats_nkey = ? WHERE agent_id = ?`).run(natsNkey, agentId);
  }

  markRemoved(agentId: string, at: number): void {
    this.db
      .prepare(
        `INSERT INTO agent_enrollments (agent_id, removed_at) VALUES (?, ?)
         ON CONFLICT(agent_id) DO UPDATE SET removed_at = COALESCE(removed_at, excluded.removed_at)`,
      )
      .run(agentId, at);
  }
}
