/**
 * Who may use the dashboard: one-time login tokens (made by an admin through
 * `nightshift dashboard`) are exchanged for a session with a role and a CSRF
 * token. Only hashes of the secrets are kept, in memory: a coordinator restart
 * ends every session, and a new link is one command away.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../shared/clock.ts";
import { BadInputError } from "../../shared/errors.ts";

export const DASHBOARD_ROLES = ["viewer", "admin"] as const;
export type DashboardRole = (typeof DASHBOARD_ROLES)[number];

export interface DashboardSession {
  role: DashboardRole;
  /** Sent by the page in X-CSRF-Token on every state-changing request. */
  csrf: string;
  expiresAt: number;
}

const hash = (secret: string): string => createHash("sha256").update(secret).digest("hex");
const secret = (): string => randomBytes(32).toString("base64url");

export function parseRole(text: string): DashboardRole {
  if ((DASHBOARD_ROLES as readonly string[]).includes(text)) return text as DashboardRole;
  throw new BadInputError(`role: expected viewer or admin, got '${text}'`, { field: "role" });
}

export class DashboardSessions {
  private readonly logins = new Map<string, { role: DashboardRole; expiresAt: number }>();
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(
    private readonly clock: Clock,
    readonly loginTtlMs = 15 * 60_000,
    readonly sessionTtlMs = 12 * 3600_000,
  ) {}

  /** A login token usable once, within loginTtlMs. */
  createLogin(role: DashboardRole): { token: string; expiresAt: number } {
    this.prune();
    const token = secret();
    const expiresAt = this.clock() + this.loginTtlMs;
    this.logins.set(hash(token), { role, expiresAt });
    return { token, expiresAt };
  }

  /** Spends a login token; returns the new session's id (the cookie value) or undefined for an unknown, used or expired token. */
  exchange(token: string): { id: string; session: DashboardSession } | undefined {
    const key = hash(token);
    const login = this.logins.get(key);
    this.logins.delete(key);
    if (!login || login.expiresAt <= this.clock()) return undefined;
    const id = secret();
    const session = { role: login.role, csrf: secret(), expiresAt: this.clock() + this.sessionTtlMs };
    this.sessions.set(hash(id), session);
    return { id, session };
  }

  get(id: string | undefined): DashboardSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(hash(id));
    if (!s) return undefined;
    if (s.expiresAt <= this.clock()) {
      this.sessions.delete(hash(id));
      return undefined;
    }
    return s;
  }

  end(id: string): void {
    this.sessions.delete(hash(id));
  }

  private prune(): void {
    const now = this.clock();
    for (const [k, v] of this.logins) if (v.expiresAt <= now) this.logins.delete(k);
    for (const [k, v] of this.sessions) if (v.expiresAt <= now) this.sessions.delete(k);
  }
}
