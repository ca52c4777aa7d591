import type { Db } from "./open-database.ts";
import { watchRows, type WatchedTable } from "./row-triggers.ts";

/**
 * Which rows of chunks, attempts and agents changed since a reader last
 * looked, told by SQLite itself, so that a copy kept in memory (the
 * dispatcher's reads, coordinator/scheduling/kept-reads.ts) re-reads only
 * those rows instead of every queued chunk, running attempt and online agent
 * on every pass.
 *
 * TEMP triggers (this connection only: row-triggers.ts) call a JS function
 * for every row inserted, updated or deleted, whatever code wrote it. So no
 * writer has to remember to announce its change. Marks are conservative: a change rolled
 * back later was still marked, and its row is simply read again. A commit by
 * another connection (another process on the same file) is seen through
 * PRAGMA data_version, and the reader then starts over. Bounded: past
 * MAX_MARKS unread marks a feed forgets them and asks for a full re-read
 * (a reader that stops taking costs at most that).
 */

export type ChangedTable = "chunks" | "attempts" | "agents";

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

/**
 * Chunk changes a reader of the queued chunks and running attempts sees
 * (coordinator/scheduling/snapshot-queries.ts: a queued chunk's job, place
 * and size; a running attempt's chunk size and copy columns). The others
 * (a chunk inserted pending, a running chunk done or back to pending, a
 * pending one failed or cancelled) are not marked: about half of a chunk's
 * changes, each a point read per pass. An attempt that stops running marks
 * its own row. NIGHTSHIFT_CHECK_KEPT_READS=1 (every test) checks this rule
 * against full reads on every pass.
 */
const CHUNK_INSERT_READ = `NEW.state = 'queued' OR NEW.spec_dispatch_id IS NOT NULL OR NEW.spec_attempt_id IS NOT NULL`;
const CHUNK_UPDATE_READ = `OLD.state = 'queued' OR NEW.state = 'queued' OR OLD.id IS NOT NEW.id
  OR OLD.frame_start IS NOT NEW.frame_start OR OLD.frame_end IS NOT NEW.frame_end
  OR OLD.spec_dispatch_id IS NOT NEW.spec_dispatch_id OR OLD.spec_attempt_id IS NOT NEW.spec_attempt_id`;

const TABLES: readonly WatchedTable[] = [
  { table: "chunks", insertWhen: CHUNK_INSERT_READ, updateWhen: CHUNK_UPDATE_READ },
  { table: "attempts" },
  // agents: a heartbeat's last_seen update is not a change the dispatcher reads.
  { table: "agents", updateOf: ["name", "state", "gpus_json", "ram_bytes", "tags_json", "executors_json"] },
];

/** A new feed of row changes on `db` (the triggers and the function are installed on the connection's first feed). */
export function rowFeed(db: Db): RowFeed {
  const feed = new RowFeed(db);
  watchRows(db, FUNCTION, TABLES, (table, id) => feed.mark(table as ChangedTable, id));
  return feed;
}
