import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { Store } from "../../coordinator/store/store.ts";
import { txSyncLater } from "../../coordinator/store/wal-sync-later.ts";
import { insertAgent, insertJob, openTempStore } from "../helpers/store-fixture.ts";

const FULL = 2;

test("txSyncLater commits under NORMAL, hands back the WAL fsync, and leaves the connection at FULL", async (t) => {
  const { store, dbPath } = openTempStore(t);
  let levelInside: unknown;
  const { result, durable } = txSyncLater(store, () => {
    levelInside = store.db.pragma("synchronous", { simple: true });
    return insertJob(store, { name: "sync-later" }).id;
  });
  assert.equal(levelInside, 1, "the commit itself does not fsync (NORMAL)");
  assert.equal(store.db.pragma("synchronous", { simple: true }), FULL);
  assert.equal(store.db.inTransaction, false, "committed before it returns");
  await durable;
  // Another connection sees the committed row.
  const other = new Database(dbPath, { readonly: true });
  t.after(() => other.close());
  assert.equal((other.prepare("SELECT name FROM jobs WHERE id = ?").get(result) as { name: string }).name, "sync-later");
});

test("txSyncLater: a transaction that throws writes nothing, the error goes to the caller, and the level is restored", (t) => {
  const { store } = openTempStore(t);
  assert.throws(
    () =>
      txSyncLater(store, () => {
        insertAgent(store, { id: "agt_rolled_back" });
        throw new Error("refused");
      }),
    /refused/,
  );
  assert.equal(store.agents.get("agt_rolled_back"), undefined);
  assert.equal(store.db.pragma("synchronous", { simple: true }), FULL);
});

test("txSyncLater: inside another transaction, or on a store with nothing to fsync, it is a plain transaction", async (t) => {
  const { store } = openTempStore(t);
  const nested = store.tx(() => txSyncLater(store, () => insertAgent(store, { id: "agt_nested" }).id));
  assert.equal(nested.result, "agt_nested");
  await nested.durable;
  const memory = Store.open(":memory:");
  t.after(() => memory.close());
  const { result, durable } = txSyncLater(memory, () => insertAgent(memory, { id: "agt_memory" }).id);
  assert.equal(result, "agt_memory");
  await durable;
  assert.equal(memory.db.pragma("synchronous", { simple: true }), FULL);
});
