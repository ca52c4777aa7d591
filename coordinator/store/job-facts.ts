import type { Db } from "./open-database.ts";
import { watchRows } from "./row-triggers.ts";

/**
 * Why this file exists: a job row is read on every claim and every commit
 * (and by the finisher, the stamper, the control API), and most of it never
 * changes after submit: the spec, the work steps and the shots as JSON text
 * (a ComfyUI workflow or a film's shot list makes them tens of kilobytes),
 * the paths, the frame range, the model. Reading them again with every chunk
 * made SQLite copy those texts into new JS strings each time. JobFacts keeps
 * them per job id, so a read asks SQLite only for the few columns that do
 * change (state, priority, message, ...).
 *
 * No code changes those columns, but a kept copy must never be stale, so
 * TEMP triggers on this connection (row-triggers.ts) drop a
 * job's facts whenever its row is inserted, deleted or any kept column is
 * updated, whoever wrote it, and forgetAll() drops every copy when a
 * transaction rolls back (Store.tx): a copy read inside a transaction that
 * is undone could hold values the file never kept. Bounded: cleared past
 * MAX_JOBS.
 */

const FUNCTION = "nightshift_job_facts_changed";
const MAX_JOBS = 1000;

export class JobFacts<T> {
  private readonly kept = new Map<string, T>();

  /** `keptColumns`: the SQL names of the columns kept (jobs-table.ts): an UPDATE OF any of them drops the job's kept facts. */
  constructor(db: Db, keptColumns: readonly string[]) {
    watchRows(db, FUNCTION, [{ table: "jobs", updateOf: keptColumns }], (_table, id) => this.forget(id));
  }

  /** The kept facts of job `id`, or read(id) kept (undefined: no such job, nothing kept). */
  of(id: string, read: (id: string) => T | undefined): T | undefined {
    let f = this.kept.get(id);
    if (f === undefined) {
      f = read(id);
      if (f === undefined) return undefined;
      if (this.kept.size >= MAX_JOBS) this.kept.clear();
      this.kept.set(id, f);
    }
    return f;
  }

  forget(id: string): void {
    this.kept.delete(id);
  }

  forgetAll(): void {
    this.kept.clear();
  }
}
