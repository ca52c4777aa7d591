import type { Store } from "../store/store.ts";

/**
 * Takes back a dispatch no agent claimed: a queued chunk whose current
 * message it is goes back to pending, a speculative copy not yet claimed is
 * cleared. Nothing happens when the dispatch is no longer the chunk's current
 * one (claimed, re-dispatched, re-cut). Call inside a store transaction.
 * Returns the chunk's job id when something was taken back.
 */
export function withdrawDispatch(store: Store, chunkId: string, dispatchId: string, now: number): string | undefined {
  const c = store.chunks.get(chunkId);
  if (!c) return undefined;
  if (c.state === "queued" && c.dispatchId === dispatchId) {
    store.chunks.transition(c.id, "pending", now, { dispatchId: null });
    return c.jobId;
  }
  if (c.specDispatchId === dispatchId && c.specAttemptId === null) {
    store.chunks.setAttempts(c.id, { specDispatchId: null, specAgentId: null });
    return c.jobId;
  }
  return undefined;
}
