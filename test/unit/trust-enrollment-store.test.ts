import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { JoinTokens } from "../../coordinator/trust/join-tokens.ts";
import { JoinTokensTable } from "../../coordinator/store/join-tokens-table.ts";
import { EnrollmentsTable } from "../../coordinator/store/enrollments-table.ts";
import { openTempStore } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";

test("join tokens in SQLite: single use under a race, multi-use counted, expiry, and only the hash is stored", (t) => {
  const { store, dbPath } = openTempStore(t);
  const clock = manualClock();
  const tokens = new JoinTokens(new JoinTokensTable(store.db), clock.now);

  const single = tokens.create({ ttlMs: 60_000 });
  // Two enrollments racing with one token: the repository's single UPDATE lets exactly one win.
  const table = new JoinTokensTable(store.db);
  assert.equal(table.markUsed(single.record.hash, clock.now()), true);
  assert.equal(table.markUsed(single.record.hash, clock.now()), false);
  const again = tokens.redeem(single.token);
  assert.deepEqual(again.ok ? "ok" : again.reason, "used");

  const multi = tokens.create({ ttlMs: 60_000, multiUse: true, label: "rack B" });
  for (let i = 0; i < 3; i++) assert.equal(tokens.redeem(multi.token).ok, true);
  assert.equal(table.findByHash(multi.record.hash)?.useCount, 3);
  assert.equal(table.findByHash(multi.record.hash)?.multiUse, true);
  assert.equal(table.findByHash(multi.record.hash)?.label, "rack B");

  const short = tokens.create({ ttlMs: 1000 });
  clock.advance(1000);
  const late = tokens.redeem(short.token);
  assert.deepEqual(late.ok ? "ok" : late.reason, "expired");
  const never = tokens.create({ ttlMs: null });
  clock.advance(10 * 365 * 86_400_000);
  assert.equal(tokens.verify(never.token).ok, true);

  store.db.pragma("wal_checkpoint(TRUNCATE)");
  const bytes = readFileSync(dbPath).toString("latin1");
  for (const tok of [single.token, multi.token, short.token, never.token]) {
    assert.ok(!bytes.includes(tok.slice(4)), "the token's secret is not in the database file");
  }
});

test("enrollments: approval kept across requests, certificate and NATS password recorded, removal takes the agent out of the NATS users", (t) => {
  const { store } = openTempStore(t);
  const e = new EnrollmentsTable(store.db);
  e.approve("agt-1", "approval", 10); // approved before it asked (a discovered agent)
  e.recordRequest("agt-1", "PEM-1");
  e.approve("agt-1", "token", 20); // a second approval does not overwrite the first
  assert.deepEqual({ ...e.get("agt-1") }, {
    agentId: "agt-1", publicKeyPem: "PEM-1", method: "approval", approvedAt: 10, certPem: null, certFingerprint: null, natsNkey: null, enrolledAt: null, removedAt: null,
  });
  assert.deepEqual(e.listActive(), [], "no certificate yet: no NATS user");
  e.recordCertificate("agt-1", { certPem: "CERT", certFingerprint: "f1", natsNkey: "UKEY1", at: 30 });
  e.recordRequest("agt-2", "PEM-2");
  e.approve("agt-2", "token", 31);
  e.recordCertificate("agt-2", { certPem: "CERT2", certFingerprint: "f2", natsNkey: "UKEY2", at: 32 });
  assert.deepEqual(e.listActive().map((r) => r.agentId), ["agt-1", "agt-2"]);
  e.markRemoved("agt-1", 40);
  e.markRemoved("agt-1", 50);
  assert.equal(e.get("agt-1")?.removedAt, 40);
  assert.deepEqual(e.listActive().map((r) => r.agentId), ["agt-2"]);
});
