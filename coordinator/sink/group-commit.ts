/**
 * Why this file exists: group commit for the result sink. A chunk's commit
 * waits for the disk three times (its staged frames, the SQLite WAL, the
 * target directories), and while one commit waits, others arrive (other
 * agents' chunks, or the next chunk of a busy agent). Instead of each paying
 * its own WAL fsync and its own directory fsyncs in turn, the commits that
 * arrived while a batch was in progress go together into the next batch: one
 * transaction, one round of directory fsyncs. The first commit of a quiet
 * sink starts at once (nothing waits for company), and each caller gets its
 * own outcome: a batch is only how the disk work is shared.
 */

interface Queued<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

/** Runs one batch; returns one outcome per item, in order. Throwing fails every item of the batch. */
export type CommitBatch<T, R> = (items: readonly T[]) => Promise<Array<PromiseSettledResult<R>>>;

export class GroupCommit<T, R> {
  private queue: Array<Queued<T, R>> = [];
  private busy = false;

  constructor(private readonly commitBatch: CommitBatch<T, R>) {}

  /**
   * Commits `item` in the next batch and settles with its own outcome. When no
   * batch is in progress the batch starts at once, and its synchronous part
   * (the transaction) runs before this returns.
   */
  submit(item: T): Promise<R> {
    const settled = new Promise<R>((resolve, reject) => this.queue.push({ item, resolve, reject }));
    if (!this.busy) void this.drain();
    return settled;
  }

  /** Commits waiting for the next batch. */
  get waiting(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        let outcomes: Array<PromiseSettledResult<R>>;
        try {
          outcomes = await this.commitBatch(batch.map((q) => q.item));
        } catch (err) {
          for (const q of batch) q.reject(err);
          continue;
        }
        batch.forEach((q, i) => {
          const o = outcomes[i];
          if (o?.status === "fulfilled") q.resolve(o.value);
          else q.reject(o ? o.reason : new Error("group commit: no outcome for a commit"));
        });
      }
    } finally {
      this.busy = false;
    }
  }
}
