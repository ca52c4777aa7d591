// coordinator/store/trust-revision.ts against real SQLite files: the revision
// changes on every write that could change an agent's trust, on this
// connection (whatever code writes) or committed by another one (the CLI's
// store), and stays put for the writes a farm makes all the time (heartbeats'
// last_seen, chunks, jobs). Another connection writes without the watching
// connection's TEMP triggers and function.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Store } from "../../coordinator/store/store.ts";
import { EnrollmentsTable } from "../../coordinator/store/enrollments-table.ts";
import { trustRevisionOf } from "../../coordinator/store/trust-revision.ts";
import { defer } from "../helpers/defer.ts";
import { insertAgent, insertJob, openTempStore } from "../helpers/store-fixture.ts";

const AGENT = "agt-00000000000000000001";

test("own writes: every enrollment write and every agent insert, state change or delete moves it; last_seen does not", (t) => {
  const { store } = openTempStore(t);
  const enrollments = new EnrollmentsTable(store.db);
  const revision = trustRevisionOf(store.db);
  assert.equal(trustRevisionOf(store.db), revision, "one per connection");
  const moves = (what: string, write: () => void) => {
    const before = revision.current();
    write();
    assert.notEqual(revision.current(), before, what);
  };
  const stays = (what: string, write: () => void) => {
    const before = revision.current();
    write();
    assert.equal(revision.current(), before, what);
  };
  moves("agent inserted", () => insertAgent(store, { id: AGENT }));
  moves("enrollment approved (insert)", () => enrollments.approve(AGENT, "token", 1_000));
  moves("certificate recorded (update)", () => enrollments.recordCertificate(AGENT, { certPem: "pem", certFingerprint: "f1", natsNkey: "U", at: 1_000 }));
  stays("heartbeat", () => store.agents.touch(AGENT, 2_000));
  stays("heartbeats batched", () => store.agents.touchMany(new Map([[AGENT, 3_000]])));
  stays("agent re-joins (upsert of an existing row, state untouched)", () => insertAgent(store, { id: AGENT, now: 4_000 }));
  stays("a job and its chunks", () => insertJob(store, {}));
  stays("a read", () => enrollments.trustOf(AGENT));
  moves("agent state", () => store.agents.transition(AGENT, "offline"));
  moves("removed", () => enrollments.markRemoved(AGENT, 5_000));
  moves("raw SQL on the enrollments", () => store.db.prepare("UPDATE agent_enrollments SET removed_at = NULL WHERE agent_id = ?").run(AGENT));
  moves("a write rolled back (one extra re-read, never a missed one)", () => {
    try {
      store.tx(() => {
        enrollments.markRemoved(AGENT, 6_000);
        throw new Error("undo");
      });
    } catch {
      // expected
    }
  });
  assert.equal(enrollments.trustOf(AGENT)?.removedAt, null, "rolled back");
  moves("agent deleted", () => store.db.prepare("DELETE FROM agent_enrollments WHERE agent_id = ?").run(AGENT));
});

test("another connection's commit moves it, and that connection writes without this one's triggers", (t) => {
  const { store, dbPath } = openTempStore(t);
  const enrollments = new EnrollmentsTable(store.db);
  insertAgent(store, { id: AGENT });
  enrollments.approve(AGENT, "token", 1_000);
  const revision = trustRevisionOf(store.db);
  const first = revision.current();
  assert.equal(revision.current(), first, "nothing written");

  const cli = Store.open(dbPath);
  defer(t, () => cli.close());
  new EnrollmentsTable(cli.db).markRemoved(AGENT, 2_000);
  const afterRemoval = revision.current();
  assert.notEqual(afterRemoval, first, "the CLI's removal");
  assert.notEqual(enrollments.trustOf(AGENT)?.removedAt, null);
  assert.equal(revision.current(), afterRemoval, "asked again, nothing new");

  cli.agents.transition(AGENT, "removed");
  assert.notEqual(revision.current(), afterRemoval, "the CLI's state change");
});
