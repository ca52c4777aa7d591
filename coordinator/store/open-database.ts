import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.ts";
import { CorruptStoreError } from "./corrupt-store-error.ts";

export type Db = Database.Database;

export { CorruptStoreError };

/**
 * Opens (or creates) the coordinator's SQLite store: WAL, foreign keys,
 * integrity-checked, migrated. A file that exists but fails the check is
 * refused, so a damaged store is never silently replaced by an empty one.
 * The file and its WAL companions are 0600: the store holds certificates,
 * key fingerprints and job data that no other local user should read.
 */
export function openDatabase(path: string): Db {
  const existed = path !== ":memory:" && existsSync(path);
  if (path !== ":memory:") {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
  }
  let db: Db;
  try {
    db = new Database(path);
  } catch (err) {
    throw new CorruptStoreError(path, (err as Error).message, { cause: err });
  }
  try {
    db.pragma("busy_timeout = 5000");
    if (existed) {
      const check = db.pragma("quick_check", { simple: true });
      if (check !== "ok") throw new CorruptStoreError(path, `quick_check: ${String(check)}`);
    }
    db.pragma("journal_mode = WAL");
    if (path !== ":memory:") for (const companion of [`${path}-wal`, `${path}-shm`]) if (existsSync(companion)) chmodSync(companion, 0o600);
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    // Savepoints' sub-journals (a write inside a savepoint to a page the transaction already changed keeps its old
    // content there) in memory, not in a temp file: the commit batch's commits and the claims that share its
    // transaction each run in a savepoint, and with files each such UPDATE wrote to one (thirteenth round,
    // bench/chunk-store-path.bench.ts: a claim beside a commit, --claims batched). Nothing durable lives there; it goes at COMMIT.
    db.pragma("temp_store = MEMORY");
    migrate(db, path);
    cacheStatements(db);
  } catch (err) {
    db.close();
    if (err instanceof CorruptStoreError) throw err;
    throw new CorruptStoreError(path, (err as Error).message, { cause: err });
  }
  return db;
}

function migrate(db: Db, path: string): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new CorruptStoreError(path, `schema version ${version} is newer than this nightshift (${MIGRATIONS.length})`);
  }
  for (let i = version; i < MIGRATIONS.length; i++) {
    const sql = MIGRATIONS[i] as string;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}

/**
 * The tables call db.prepare(sql) on every use, and compiling SQL is the
 * store's largest cost under load (claims, commits, dispatch passes). This
 * makes prepare return the same compiled statement for the same SQL text.
 * Safe here: statements run synchronously and to completion (no iterate(),
 * no bind(), no pluck()/raw() mode changes). Bounded: cleared past 1000 texts.
 */
function cacheStatements(db: Db): void {
  const cache = new Map<string, Database.Statement>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      if (cache.size >= 1000) cache.clear();
      stmt = prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  }) as Db["prepare"];
}
