import assert from "node:assert/strict";
import { test } from "node:test";
import { countStatements } from "../../bench/scheduling/statement-counter.ts";
import { openTempStore } from "../helpers/store-fixture.ts";

test("the bench's statement counter counts savepoints (nested store.tx) apart from transactions", (t) => {
  const { store } = openTempStore(t);
  store.db.exec("CREATE TABLE counted (x INTEGER)");
  const stop = countStatements(store);
  const insert = (): void => void store.db.prepare("INSERT INTO counted VALUES (1)").run();
  store.tx(insert); // one write transaction
  store.txEach([insert, insert, insert]); // one transaction, three savepoints
  store.tx(() => store.tx(() => store.db.prepare("SELECT COUNT(*) FROM counted").get())); // a read transaction holding one savepoint
  const counted = stop(2);
  assert.equal(counted.transactionsPerChunk, 1.5, "three transactions over two chunks");
  assert.equal(counted.savepointsPerChunk, 2, "four savepoints over two chunks");
  assert.equal(counted.readOnlyTransactionsPerChunk, 0.5, "one read-only transaction");
  assert.equal(counted.statementsPerChunk, 2.5, "four inserts and one select");
});
