import Database from "better-sqlite3";

/** A read-only view of a coordinator's store that another process owns (WAL allows concurrent readers). */
export function readStore(path: string): { all<T>(sql: string, ...args: unknown[]): T[]; get<T>(sql: string, ...args: unknown[]): T | undefined; close(): void } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma("busy_timeout = 2000");
  return {
    all: <T>(sql: string, ...args: unknown[]) => db.prepare(sql).all(...args) as T[],
    get: <T>(sql: string, ...args: unknown[]) => db.prepare(sql).get(...args) as T | undefined,
    close: () => db.close(),
  };
}
