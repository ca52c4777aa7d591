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
  /** Batches committed so far and the writes they held; `shared`: writes of them run in another's transaction (take). */
  readonly stats = { batches: 0, writes: 0, shared: 0 };

  constructor(private readonly store: Store) {}

  /** Runs fn in the transaction of this turn's batch; resolves with its result once that transaction committed. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  /**
   * The writes waiting for this turn's transaction, handed to another write
   * transaction of this turn instead (the result sink's group commit:
   * result-sink.ts commitBatch), so that both share one BEGIN/COMMIT and one
   * WAL fsync; none waiting: undefined. The taker runs `fns` inside its
   * transaction, each in its own savepoint (Store#txEach), and calls `settle`
   * once that transaction committed, with their outcomes, or with the error
   * that failed it: the same promise as flush(), a write answered only once
   * it is durable. This turn's own flush then finds nothing left.
   */
  take(): SharedWrites | undefined {
    const batch = this.queue;
    if (batch.length === 0) return undefined;
    this.queue = [];
    return {
      fns: batch.map((w) => w.fn),
      settle: (outcomes) => {
        if ("err" in outcomes) return batch.forEach((w) => w.reject(outcomes.err));
        this.stats.shared += batch.length;
        this.answer(batch, outcomes.done);
      },
    };
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return; // taken into another transaction of this turn (take)
    let outcomes: TxOutcomes;
    try {
      outcomes = this.store.txEach(batch.map((w) => w.fn));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    this.answer(batch, outcomes);
  }

  private answer(batch: TurnBatch["queue"], outcomes: TxOutcomes): void {
    this.stats.batches++;
    this.stats.writes += batch.length;
    for (const [i, w] of batch.entries()) {
      const o = outcomes[i];
      if (o === undefined) w.reject(new Error("turn batch: no outcome for a write"));
      else if (o.ok) w.resolve(o.value);
      else w.reject(o.err);
    }
  }
}

type TxOutcomes = ReturnType<Store["txEach"]>;

/** A turn's queued writes run in another transaction (TurnBatch#take). */
export interface SharedWrites {
  readonly fns: ReadonlyArray<() => unknown>;
  /** Their outcomes, in order, once the transaction that ran them committed; or the error that failed it (all rejected). */
  settle(outcomes: { done: TxOutcomes } | { err: unknown }): void;
}
