import { openDatabase, type Db } from "./open-database.ts";
import { JobsTable } from "./jobs-table.ts";
import { ChunksTable } from "./chunks-table.ts";
import { AttemptsTable } from "./attempts-table.ts";
import { AgentsTable } from "./agents-table.ts";
import { FramesTable } from "./frames-table.ts";
import { LedgerTable } from "./ledger-table.ts";
import { BlocklistTable } from "./blocklist-table.ts";
import { TelemetryTable } from "./telemetry-table.ts";
import { AttemptLogsTable } from "./attempt-logs-table.ts";
import { ModelsTable } from "./models-table.ts";

/** The coordinator's truth: one SQLite file, one table object per table. */
export class Store {
  readonly jobs: JobsTable;
  readonly chunks: ChunksTable;
  readonly attempts: AttemptsTable;
  readonly agents: AgentsTable;
  readonly frames: FramesTable;
  readonly ledger: LedgerTable;
  readonly blocklist: BlocklistTable;
  readonly telemetry: TelemetryTable;
  readonly attemptLogs: AttemptLogsTable;
  readonly models: ModelsTable;
  private closed = false;
  private readonly runTx: (fn: () => unknown) => unknown;

  constructor(readonly db: Db) {
    this.jobs = new JobsTable(db);
    this.chunks = new ChunksTable(db);
    this.attempts = new AttemptsTable(db);
    this.agents = new AgentsTable(db);
    this.frames = new FramesTable(db);
    this.ledger = new LedgerTable(db);
    this.blocklist = new BlocklistTable(db);
    this.telemetry = new TelemetryTable(db);
    this.attemptLogs = new AttemptLogsTable(db);
    this.models = new ModelsTable(db);
    this.runTx = db.transaction((fn: () => unknown) => fn());
  }

  static open(path: string): Store {
    return new Store(openDatabase(path));
  }

  /**
   * Runs fn in one SQLite transaction: all of it commits, or none (inside
   * another transaction: a savepoint). One wrapper made once: better-sqlite3's
   * db.transaction(fn) builds four wrappers and their properties per call,
   * a cost paid on every claim, commit and dispatch pass.
   */
  tx<T>(fn: () => T): T {
    try {
      return this.runTx(fn) as T;
    } catch (err) {
      // Rolled back (this transaction or savepoint): job facts kept from reads inside it may be undone (job-facts.ts).
      this.jobs.forgetFacts();
      throw err;
    }
  }

  /**
   * Runs each of `fns` in its own savepoint inside one transaction (one
   * BEGIN/COMMIT, one WAL fsync for all): one that throws is undone alone and
   * its error takes its place in the result; the others commit together. A
   * single fn runs without a savepoint (its error then fails the transaction,
   * which held nothing else). Throws, keeping nothing, when the transaction
   * fails or SQLite dropped it under one of them (disk full, I/O error).
   * Shared by the claims of one turn (dispatch/turn-batch.ts) and the result
   * sink's group commit.
   */
  txEach<T>(fns: ReadonlyArray<() => T>): Array<{ ok: true; value: T } | { ok: false; err: unknown }> {
    const out: Array<{ ok: true; value: T } | { ok: false; err: unknown }> = [];
    this.tx(() => {
      for (const fn of fns) {
        if (fns.length === 1) {
          out.push({ ok: true, value: fn() });
          continue;
        }
        try {
          out.push({ ok: true, value: this.tx(fn) });
        } catch (err) {
          if (!this.db.inTransaction) throw err;
          out.push({ ok: false, err });
        }
      }
    });
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
