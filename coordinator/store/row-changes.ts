import type { Db } from "./open-database.ts";

/**
 * Which rows of chunks, attempts and agents changed since a reader last
 * looked, told by SQLite itself, so that a copy kept in memory (the
 * dispatcher's reads, coordinator/scheduling/kept-reads.ts) re-reads only
 * those rows instead of every queued chunk, running attempt and online agent
 * on every pass.
 *
 * TEMP triggers (this connection only: nothing is written to the file, and a
 * CLI opening the same store sees no trigger) call a JS function for every
 * row inserted, updated or deleted, whatever code wrote it. So no writer has
 * to remember to announce its change. Marks are conservative: a change rolled
 * back later was still marked, and its row is simply read again. A commit by
 * another connection (another process on the same file) is seen through
 * PRAGMA data_version, and the reader then starts over. Bounded: past
 * MAX_MARKS unread marks a feed forgets them and asks for a full re-read
 * (a reader that stops taking costs at most that).
 */

export type ChangedTable = "chunks" | "attempts" | "agents";

const TABLES: readonly ChangedTable[] = ["chunks", "attempts", "agents"];
const FUNCTION = "nightshift_row_changed";
/** Unread marks a feed keeps before it gives up on them and asks for a full re-read. */
export const MAX_MARKS = 50_000;

/** What changed since the last take(): row ids per table, or `reload` when the reader must read everything again. */
export interface RowChangeSet {
  reload: boolean;
  chunks: ReadonlySet<string>;
  attempts: ReadonlySet<string>;
  agents: ReadonlySet<string>;
}

/** One reader's marks. */
export class RowFeed {
  private marks = { chunks: new Set<string>(), attempts: new Set<string>(), agents: new Set<string>() };
  private count = 0;
  private overflow = false;
  private dataVersion: number | undefined;

  constructor(private readonly db: Db) {}

  mark(table: ChangedTable, id: string): void {
    if (this.overflow) return;
    if (++this.count > MAX_MARKS) {
      this.overflow = true;
      this.marks = { chunks: new Set(), attempts: new Set(), agents: new Set() };
      return;
    }
    this.marks[table].add(id);
  }

  /** The marks since the last take (and clears them); `reload` on the first take, after an overflow or another connection's commit. */
  take(): RowChangeSet {
    const version = (this.db.prepare("PRAGMA data_version").get() as { data_version: number }).data_version;
    const reload = this.dataVersion === undefined || version !== this.dataVersion || this.overflow;
    this.dataVersion = version;
    const out = { reload, ...this.marks };
    this.marks = { chunks: new Set(), attempts: new Set(), agents: new Set() };
    this.count = 0;
    this.overflow = false;
    return out;
  }
}

const feedsOf = new WeakMap<Db, Set<RowFeed>>();

/** A new feed of row changes on `db` (the triggers and the function are installed on the connection's first feed). */
export function rowFeed(db: Db): RowFeed {
  let feeds = feedsOf.get(db);
  if (!feeds) {
    const all = new Set<RowFeed>();
    feeds = all;
    feedsOf.set(db, all);
    db.function(FUNCTION, { varargs: true, deterministic: false }, (table: unknown, ...ids: unknown[]) => {
      for (const f of all) for (const id of ids) if (typeof id === "string") f.mark(table as ChangedTable, id);
      return null;
    });
    for (const t of TABLES) {
      // agents: a heartbeat's last_seen update is not a change the dispatcher reads.
      const updateOf = t === "agents" ? " OF name, state, gpus_json, ram_bytes, tags_json, executors_json" : "";
      db.exec(`
        CREATE TEMP TRIGGER IF NOT EXISTS ${FUNCTION}_${t}_insert AFTER INSERT ON main.${t} BEGIN SELECT ${FUNCTION}('${t}', NEW.id); END;
        CREATE TEMP TRIGGER IF NOT EXISTS ${FUNCTION}_${t}_update AFTER UPDATE${updateOf} ON main.${t} BEGIN SELECT ${FUNCTION}('${t}', OLD.id, NEW.id); END;
        CREATE TEMP TRIGGER IF NOT EXISTS ${FUNCTION}_${t}_delete AFTER DELETE ON main.${t} BEGIN SELECT ${FUNCTION}('${t}', OLD.id); END;
      `);
    }
  }
  const feed = new RowFeed(db);
  feeds.add(feed);
  return feed;
}
