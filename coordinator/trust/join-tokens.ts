import { createHash, randomBytes } from "node:crypto";
import { BadInputError } from "../../shared/errors.ts";
import { base32Decode, base32Encode } from "../../shared/base32.ts";

/**
 * Join tokens: what an admin hands to a new agent so that it is approved at
 * enrollment. 128 random bits printed as `nsj_<base32>`; only the sha256 of
 * the raw bits is stored, so a copy of the database does not reveal a token
 * that still works elsewhere.
 */

export const JOIN_TOKEN_PREFIX = "nsj_";
const TOKEN_BYTES = 16;
const TOKEN_CHARS = 26;
export const DEFAULT_JOIN_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export interface JoinTokenRecord {
  /** sha256 of the token's 16 random bytes, lowercase hex. */
  readonly hash: string;
  readonly createdAt: number;
  /** Epoch ms after which the token is refused; null for never. */
  readonly expiresAt: number | null;
  readonly multiUse: boolean;
  readonly label: string | null;
  /** Epoch ms of the first use, null while unused. */
  readonly usedAt: number | null;
  readonly useCount: number;
}

/** Storage for join tokens; the coordinator implements it on SQLite. */
export interface JoinTokenRepository {
  insert(record: JoinTokenRecord): void;
  findByHash(hash: string): JoinTokenRecord | undefined;
  /**
   * Records one use at `at`. Must be atomic: for a single-use token it returns
   * false (and changes nothing) when the token was already used, so two
   * agents racing with one token cannot both win.
   */
  markUsed(hash: string, at: number): boolean;
}

export type JoinTokenRefusal = "unknown" | "used" | "expired";

export type JoinTokenCheck =
  | { readonly ok: true; readonly record: JoinTokenRecord }
  | { readonly ok: false; readonly reason: JoinTokenRefusal; readonly message: string };

export interface CreateJoinTokenOptions {
  /** Lifetime in ms; null for a token that never expires. Default 24 h. */
  readonly ttlMs?: number | null;
  readonly multiUse?: boolean;
  readonly label?: string;
}

export class JoinTokens {
  constructor(
    private readonly repository: JoinTokenRepository,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Creates and stores a token; the returned `token` is the only copy of the secret. */
  create(options: CreateJoinTokenOptions = {}): { token: string; record: JoinTokenRecord } {
    const ttlMs = options.ttlMs === undefined ? DEFAULT_JOIN_TOKEN_TTL_MS : options.ttlMs;
    if (ttlMs !== null && (!Number.isFinite(ttlMs) || ttlMs <= 0)) {
      throw new BadInputError(`join token lifetime must be a positive duration, got ${ttlMs} ms`, { field: "ttl" });
    }
    const secret = randomBytes(TOKEN_BYTES);
    const now = this.clock();
    const record: JoinTokenRecord = {
      hash: hashSecret(secret),
      createdAt: now,
      expiresAt: ttlMs === null ? null : now + ttlMs,
      multiUse: options.multiUse ?? false,
      label: options.label ?? null,
      usedAt: null,
      useCount: 0,
    };
    this.repository.insert(record);
    return { token: JOIN_TOKEN_PREFIX + base32Encode(secret), record };
  }

  /** Checks a token without using it up. */
  verify(token: string, now: number = this.clock()): JoinTokenCheck {
    const hash = hashJoinToken(token);
    if (hash === undefined) {
      return refuse("unknown", `join token must be "${JOIN_TOKEN_PREFIX}" followed by ${TOKEN_CHARS} letters and digits`);
    }
    const record = this.repository.findByHash(hash);
    if (record === undefined) return refuse("unknown", "join token not recognised by this coordinator");
    if (record.expiresAt !== null && now >= record.expiresAt) {
      return refuse("expired", `join token expired at ${new Date(record.expiresAt).toISOString()}`);
    }
    if (!record.multiUse && record.usedAt !== null) return refuse("used", "join token already used");
    return { ok: true, record };
  }

  /** Checks a token and records one use; a single-use token works once only, even under races. */
  redeem(token: string, now: number = this.clock()): JoinTokenCheck {
    const check = this.verify(token, now);
    if (!check.ok) return check;
    if (!this.repository.markUsed(check.record.hash, now)) return refuse("used", "join token already used");
    return { ok: true, record: this.repository.findByHash(check.record.hash) ?? check.record };
  }
}

/** sha256 (hex) of a printed token's secret, or undefined when it is not a well-formed token. */
export function hashJoinToken(token: string): string | undefined {
  const text = token.trim();
  if (!text.toLowerCase().startsWith(JOIN_TOKEN_PREFIX)) return undefined;
  const body = text.slice(JOIN_TOKEN_PREFIX.length);
  if (body.length !== TOKEN_CHARS) return undefined;
  const secret = base32Decode(body);
  if (secret === undefined || secret.length !== TOKEN_BYTES) return undefined;
  return hashSecret(secret);
}

function hashSecret(secret: Uint8Array): string {
  return createHash("sha256").update(secret).digest("hex");
}

function refuse(reason: JoinTokenRefusal, message: string): JoinTokenCheck {
  return { ok: false, reason, message };
}
