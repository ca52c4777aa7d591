import type { Db } from "./open-database.ts";

/**
 * Why this file exists: two kinds of readers keep rows in memory and must
 * hear of every change to them, whoever wrote it: the kept job facts
 * (job-facts.ts) and the dispatcher's row feeds (row-changes.ts). Both ask
 * SQLite: TEMP triggers (this connection only: nothing is written to the
 * file, and a CLI opening the same store sees no trigger) call a JS function
 * with the table and the id of every row inserted, updated or deleted. This
 * installs the function and its triggers once per connection and name, and
 * tells every listener added under that name.
 */

export interface WatchedTable {
  readonly table: string;
  /** Only updates of these columns are told (any update when absent). */
  readonly updateOf?: readonly string[];
  /** SQL conditions on NEW (an insert) and on OLD and NEW (an update): only such rows are told (every row when absent). */
  readonly insertWhen?: string;
  readonly updateWhen?: string;
}

/** Told of one changed row: an update tells both its old and its new id. */
export type RowListener = (table: string, id: string) => void;

const listenersOf = new WeakMap<Db, Map<string, Set<RowListener>>>();

/**
 * Adds `listener` to the function `name` on `db`. The first listener of a
 * name installs it, with triggers on `tables`; later ones share them (their
 * `tables` are the first's). Listeners live as long as the connection.
 */
export function watchRows(db: Db, name: string, tables: readonly WatchedTable[], listener: RowListener): void {
  let byName = listenersOf.get(db);
  if (!byName) {
    byName = new Map();
    listenersOf.set(db, byName);
  }
  let listeners = byName.get(name);
  if (!listeners) {
    const all = new Set<RowListener>();
    listeners = all;
    byName.set(name, all);
    db.function(name, { varargs: true, deterministic: false }, (table: unknown, ...ids: unknown[]) => {
      for (const l of all) for (const id of ids) if (typeof id === "string") l(table as string, id);
      return null;
    });
    for (const t of tables) {
      const updateOf = t.updateOf ? ` OF ${t.updateOf.join(", ")}` : "";
      const insertWhen = t.insertWhen ? ` WHEN ${t.insertWhen}` : "";
      const updateWhen = t.updateWhen ? ` WHEN ${t.updateWhen}` : "";
      db.exec(`
        CREATE TEMP TRIGGER IF NOT EXISTS ${name}_${t.table}_insert AFTER INSERT ON main.${t.table}${insertWhen} BEGIN SELECT ${name}('${t.table}', NEW.id); END;
        CREATE TEMP TRIGGER IF NOT EXISTS ${name}_${t.table}_update AFTER UPDATE${updateOf} ON main.${t.table}${updateWhen} BEGIN SELECT ${name}('${t.table}', OLD.id, NEW.id); END;
        CREATE TEMP TRIGGER IF NOT EXISTS ${name}_${t.table}_delete AFTER DELETE ON main.${t.table} BEGIN SELECT ${name}('${t.table}', OLD.id); END;
      `);
    }
  }
  listeners.add(listener);
}
