/**
 * Tests of shared transactions (claims of one turn, commits with claims):
 * how many top-level transactions the store ran, and what another connection
 * sees, which is only what was committed.
 */
import type { TestContext } from "node:test";
import Database from "better-sqlite3";
import type { Store } from "../../coordinator/store/store.ts";
import { defer } from "./defer.ts";

/** Counts the store's top-level transactions from now on (nested ones, savepoints, are not counted). */
export function countTransactions(store: Store): () => number {
  let count = 0;
  const tx = store.tx.bind(store);
  store.tx = <T>(fn: () => T): T => {
    if (!store.db.inTransaction) count++;
    return tx(fn);
  };
  return () => count;
}

/** An attempt's row as a second, read-only connection sees it (closed with the test). */
export function committedAttempts(t: TestContext, dbPath: string): (attemptId: string) => unknown {
  const reader = new Database(dbPath, { readonly: true });
  defer(t, () => {
    reader.close();
  });
  return (attemptId) => reader.prepare(`SELECT chunk_id AS chunkId, agent_id AS agentId, state FROM attempts WHERE id = ?`).get(attemptId);
}
