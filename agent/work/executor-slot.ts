/**
 * The agent's one executor slot: the GPU (or ComfyUI, or Blender) runs one
 * chunk at a time even when the agent holds more (one finishing its upload
 * and commit, one claimed ahead). Holders queue in claim order; a waiter
 * whose chunk is aborted (drain, stop, cancel) leaves the queue without
 * letting anyone overtake the holder it waited for.
 */
export class ExecutorSlot {
  /** Resolves when the last holder (or waiter) in line has released. */
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** Chunks holding or waiting for the slot. */
  get queued(): number {
    return this.holders;
  }

  /** Waits for the slot; resolves with an idempotent release. Rejects with the signal's reason if aborted first. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    const before = this.tail;
    let open!: () => void;
    const mine = new Promise<void>((r) => (open = r));
    this.tail = mine;
    this.holders++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.holders--;
      // Whoever waits behind this holder starts only once the one before it is gone too.
      void before.then(open);
    };
    if (signal.aborted) {
      release();
      throw signal.reason;
    }
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([before, aborted]);
    } catch (err) {
      release();
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    return release;
  }
}
