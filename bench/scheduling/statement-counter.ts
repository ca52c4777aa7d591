/**
 * Counts the SQLite statements the coordinator runs during a bench run
 * (NIGHTSHIFT_BENCH_COUNT_SQL=1 npm run bench:scheduling): which statements,
 * how many per chunk, and how many transactions and savepoints. Bench-only: it wraps the
 * store's prepare() and tx() for the run and puts them back afterwards, so
 * the coordinator's own code carries no counter (and the CPU figures of a
 * counted run are not comparable with an uncounted one).
 */
import type { Store } from "../../coordinator/store/store.ts";

export interface StatementCount {
  statementsPerChunk: number;
  /** Top-level store.tx calls: one BEGIN ... COMMIT each. (Before the fourteenth round savepoints were counted here too.) */
  transactionsPerChunk: number;
  /** store.tx calls inside a transaction (txEach's claims and commits, nested tx): SAVEPOINT ... RELEASE, no COMMIT of their own. */
  savepointsPerChunk: number;
  /** Of the transactions, the ones that ran no write (run()) statement: read transactions, whose COMMIT writes nothing. */
  readOnlyTransactionsPerChunk: number;
  /** The most run statements, per chunk, with their SQL shortened to one line. */
  top: Array<{ perChunk: number; sql: string }>;
}

export const countingSql = (): boolean => process.env.NIGHTSHIFT_BENCH_COUNT_SQL === "1" || process.env.NIGHTSHIFT_BENCH_COUNT_SQL === "sites";

/** NIGHTSHIFT_BENCH_COUNT_SQL=sites: each statement is counted per caller (the nearest coordinator frames outside store/), to see who runs it. */
const bySite = (): boolean => process.env.NIGHTSHIFT_BENCH_COUNT_SQL === "sites";

/** The two nearest callers of a statement outside coordinator/store/ (file:line), for the sites mode. */
function site(): string {
  const frames = (new Error().stack ?? "").split("\n").slice(3);
  const ours = frames.map((f) => /coordinator\/(.+?\.ts):(\d+)/.exec(f)).filter((m): m is RegExpExecArray => m !== null && !m[1]!.startsWith("store/"));
  return ours.slice(0, 2).map((m) => `${m[1]}:${m[2]}`).join(" < ") || "?";
}

/** Starts counting on `store`; the returned function stops and gives the figures over `chunks`. */
export function countStatements(store: Store): (chunks: number) => StatementCount {
  const db = store.db;
  const prepare = db.prepare;
  const tx = store.tx;
  const counts = new Map<string, number>();
  let transactions = 0;
  let savepoints = 0;
  let readOnly = 0;
  let writes = 0;
  const counted = new Set(["run", "get", "all", "iterate"]);
  db.prepare = ((sql: string) => {
    const stmt = prepare.call(db, sql);
    return new Proxy(stmt, {
      get(target, key) {
        const v = Reflect.get(target, key) as unknown;
        if (typeof v !== "function") return v;
        if (typeof key === "string" && counted.has(key)) {
          return (...args: unknown[]) => {
            const counted = bySite() ? `${site()} | ${sql}` : sql;
            counts.set(counted, (counts.get(counted) ?? 0) + 1);
            if (key === "run") writes++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return (v as (...a: unknown[]) => unknown).bind(target);
      },
    });
  }) as typeof db.prepare;
  store.tx = <T>(fn: () => T): T => {
    if (db.inTransaction) {
      savepoints++;
      return tx.call(store, fn) as T;
    }
    transactions++;
    const before = writes;
    try {
      return tx.call(store, fn) as T;
    } finally {
      if (writes === before) readOnly++;
    }
  };
  return (chunks) => {
    db.prepare = prepare;
    delete (store as { tx?: unknown }).tx;
    const n = Math.max(1, chunks);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const perChunk = (c: number): number => Math.round((c / n) * 100) / 100;
    const top = [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, bySite() ? 60 : 25)
      .map(([sql, c]) => ({ perChunk: perChunk(c), sql: sql.replace(/\s+/g, " ").slice(0, bySite() ? 220 : 140) }));
    return { statementsPerChunk: perChunk(total), transactionsPerChunk: perChunk(transactions), savepointsPerChunk: perChunk(savepoints), readOnlyTransactionsPerChunk: perChunk(readOnly), top };
  };
}
