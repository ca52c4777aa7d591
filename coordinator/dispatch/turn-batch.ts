import type { Store } from "../store/store.ts";

/**
 * Store writes asked for in one turn of the event loop share one SQLite
 * transaction: claims that arrive together (many agents pulling at once, or
 * piled up while the coordinator was busy) pay one BEGIN/COMMIT (and, on a
 * disk, one fsync) instead of one each.
 *
 * Each write runs in its own savepoint, so a write that throws is undone
 * alone and the others still commit. Every answer (resolve or reject) is
 * given only after the shared COMMIT returned: a caller never sees a result
 * that is not durable. If the COMMIT itself fails, or SQLite dropped the
 * whole transaction under a write, every write of the batch is rejected and
 * none is kept.
 */
export class TurnBatch {
  private queue: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (err: unknown) => void }> = [];
  /** Batches committed so far and the writes they held (tests and benches read these). */
  readonly stats = { batches: 0, writes: 0 };

  constructor(private readonly store: Store) {}

  /** Runs fn in the transaction of this turn's batch; resolves with its result once that transaction committed. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    let outcomes: ReturnType<Store["txEach"]>;
    try {
      outcomes = this.store.txEach(batch.map((w) => w.fn));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    this.stats.batches++;
    this.stats.writes += batch.length;
    for (const [i, w] of batch.entries()) {
      const o = outcomes[i] as (typeof outcomes)[number];
      if (o.ok) w.resolve(o.value);
      else w.reject(o.err);
    }
  }
}
