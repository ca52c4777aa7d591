import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { base32Decode, base32Encode } from "../../shared/base32.ts";
import { MemoryJoinTokenRepository } from "../../coordinator/trust/join-token-memory-repository.ts";
import { hashJoinToken, JoinTokens } from "../../coordinator/trust/join-tokens.ts";
import { BadInputError } from "../../shared/errors.ts";

const HOUR = 3_600_000;

function setup(start = Date.parse("2030-01-01T00:00:00Z")) {
  const clock = { now: start };
  const repo = new MemoryJoinTokenRepository();
  return { clock, repo, tokens: new JoinTokens(repo, () => clock.now) };
}

test("base32 round-trips and matches RFC 4648 test vectors", () => {
  const vectors: Array<[string, string]> = [["f", "my"], ["fo", "mzxq"], ["foo", "mzxw6"], ["foob", "mzxw6yq"], ["fooba", "mzxw6ytb"], ["foobar", "mzxw6ytboi"]];
  for (const [plain, encoded] of vectors) {
    assert.equal(base32Encode(Buffer.from(plain)), encoded);
    assert.equal(Buffer.from(base32Decode(encoded.toUpperCase()) ?? []).toString(), plain);
  }
  assert.equal(base32Decode("mzxw6yq1"), undefined, "1 is not in the alphabet");
  assert.equal(base32Decode("mzxw6yr"), undefined, "non-zero trailing bits");
});

test("a token is nsj_ + 26 base32 chars; only the sha256 of its 128 secret bits is stored", () => {
  const { repo, tokens } = setup();
  const { token, record } = tokens.create({ label: "new box" });
  assert.match(token, /^nsj_[a-z2-7]{26}$/);
  const secret = base32Decode(token.slice(4));
  assert.equal(secret?.length, 16);
  assert.equal(record.hash, createHash("sha256").update(secret ?? new Uint8Array()).digest("hex"));
  assert.deepEqual(repo.all(), [record]);
  assert.ok(!JSON.stringify(repo.all()).includes(token.slice(4)), "the printed token is not stored");
  assert.equal(hashJoinToken(`  ${token.toUpperCase().replace("NSJ_", "nsj_")} `), record.hash, "case and spaces forgiven");
  assert.notEqual(tokens.create().token, token);
});

test("single-use token: works once, then 'join token already used'", () => {
  const { tokens, clock } = setup();
  const { token } = tokens.create();
  assert.equal(tokens.verify(token).ok, true);
  assert.equal(tokens.verify(token).ok, true, "verify alone does not use it up");
  const first = tokens.redeem(token);
  assert.ok(first.ok);
  assert.equal(first.record.usedAt, clock.now);
  assert.deepEqual(tokens.redeem(token), { ok: false, reason: "used", message: "join token already used" });
  assert.deepEqual(tokens.verify(token), { ok: false, reason: "used", message: "join token already used" });
});

test("multi-use token: every use counts until it expires", () => {
  const { tokens, clock } = setup();
  const { token } = tokens.create({ multiUse: true, ttlMs: 2 * HOUR });
  for (let i = 1; i <= 3; i++) {
    const result = tokens.redeem(token);
    assert.ok(result.ok);
    assert.equal(result.record.useCount, i);
  }
  clock.now += 2 * HOUR;
  const expired = tokens.redeem(token);
  assert.equal(expired.ok, false);
  assert.equal(!expired.ok && expired.reason, "expired");
  assert.equal(!expired.ok && expired.message, "join token expired at 2030-01-01T02:00:00.000Z");
});

test("default lifetime is 24 h; null never expires; checks use the injected clock or an explicit now", () => {
  const { tokens, clock } = setup();
  const { token } = tokens.create();
  assert.equal(tokens.verify(token, clock.now + 24 * HOUR - 1).ok, true);
  assert.equal(tokens.verify(token, clock.now + 24 * HOUR).ok, false);
  const forever = tokens.create({ ttlMs: null });
  assert.equal(forever.record.expiresAt, null);
  assert.equal(tokens.verify(forever.token, clock.now + 1000 * 24 * HOUR).ok, true);
  assert.throws(() => tokens.create({ ttlMs: 0 }), (e: unknown) => e instanceof BadInputError && e.field === "ttl");
});

test("unknown and malformed tokens are refused as unknown, with different messages", () => {
  const { tokens } = setup();
  const other = setup().tokens.create().token; // issued by another coordinator
  const unknown = tokens.verify(other);
  assert.deepEqual(unknown, { ok: false, reason: "unknown", message: "join token not recognised by this coordinator" });
  for (const bad of ["", "nsj_", "abc", "nsj_tooshort", `xyz_${"a".repeat(26)}`, `nsj_${"1".repeat(26)}`]) {
    const result = tokens.verify(bad);
    assert.equal(result.ok, false, bad);
    assert.equal(!result.ok && result.reason, "unknown");
    assert.match(!result.ok ? result.message : "", /must be "nsj_" followed by 26/);
  }
});

test("two redeems racing on a single-use token: exactly one wins even if both saw it unused", () => {
  const { repo, clock } = setup();
  // A read that is always stale: both redeems pass verify, as they would when interleaved.
  const staleReads = {
    insert: (r: Parameters<typeof repo.insert>[0]) => repo.insert(r),
    findByHash: (hash: string) => {
      const record = repo.findByHash(hash);
      return record === undefined ? undefined : { ...record, usedAt: null };
    },
    markUsed: (hash: string, at: number) => repo.markUsed(hash, at),
  };
  const tokens = new JoinTokens(staleReads, () => clock.now);
  const { token, record } = tokens.create();
  assert.equal(tokens.redeem(token).ok, true);
  assert.deepEqual(tokens.redeem(token), { ok: false, reason: "used", message: "join token already used" });
  assert.equal(repo.findByHash(record.hash)?.useCount, 1);
});
