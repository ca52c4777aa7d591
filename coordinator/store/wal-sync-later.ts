/**
 * Why this file exists: a transaction whose WAL fsync runs off the event loop.
 * The store runs in WAL mode with synchronous=FULL, so each COMMIT fsyncs the
 * WAL file in line, and for that disk flush the event loop (every upload,
 * claim and heartbeat) stands still. In WAL mode FULL differs from NORMAL only
 * by that fsync of the WAL after each commit (sqlite.org/pragma.html,
 * "synchronous"), so a transaction committed under NORMAL is exactly as
 * durable as under FULL once the WAL file has been fsynced. Here the commit
 * runs under NORMAL and that fsync runs on libuv's thread pool, handed back as
 * a promise; the connection is back at its own level before this returns.
 *
 * The caller must not act on the transaction outside the process (answer a
 * client, rename files its rows describe) before `durable` settles. Other
 * code in the process sees the rows at once; whatever it writes durably comes
 * later in the same append-only WAL, so it cannot reach the disk without this
 * transaction.
 */
import { closeSync, fsync, openSync } from "node:fs";
import type { Store } from "./store.ts";

const SYNCHRONOUS_FULL = 2;

export interface SyncLater<T> {
  result: T;
  /** Settles once the transaction is on disk (at once when the store needs no fsync of its own for it). */
  durable: Promise<void>;
}

export function txSyncLater<T>(store: Store, fn: () => T): SyncLater<T> {
  const db = store.db;
  const level = db.pragma("synchronous", { simple: true }) as number;
  const wal = db.memory ? undefined : `${db.name}-wal`;
  if (wal === undefined || level < SYNCHRONOUS_FULL || db.inTransaction || db.pragma("journal_mode", { simple: true }) !== "wal") {
    return { result: store.tx(fn), durable: Promise.resolve() };
  }
  db.pragma("synchronous = NORMAL");
  let result: T;
  try {
    result = store.tx(fn);
  } finally {
    db.pragma(`synchronous = ${level}`);
  }
  return { result, durable: fsyncFile(wal) };
}

/** Opens in line, fsyncs on the thread pool, closes in line. */
function fsyncFile(path: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    return Promise.reject(err as Error);
  }
  const durable = new Promise<void>((resolve, reject) =>
    fsync(fd, (err) => {
      closeSync(fd);
      if (err) reject(err);
      else resolve();
    }),
  );
  durable.catch(() => undefined); // reported to whoever awaits it
  return durable;
}
