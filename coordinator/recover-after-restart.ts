import type { Store } from "./store/store.ts";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/log.ts";
import type { AttemptState } from "../shared/lifecycle/states.ts";

/** How a chunk's last attempt ended when it is lost work (placed first, lost-work-first.ts), not a failure retried in turn. */
const LOST_WORK: ReadonlySet<AttemptState> = new Set(["lost", "handed-back"]);

/**
 * Start-up repair of the store after a stop or crash:
 * - queued chunks are re-dispatched (their old messages, if JetStream still
 *   holds them, carry a stale dispatch id and are skipped by the claim);
 * - agents that were online get a fresh grace period: a live agent's next
 *   heartbeat keeps it, a dead one times out and its attempts are requeued.
 *   Running attempts are kept, so an agent that was mid-chunk can still commit.
 * Returns the re-dispatched chunks whose last attempt was lost or handed
 * back: lost work that was placed first (or waited to be) before the restart,
 * to be placed first again rather than put at the back of the pool (the soak
 * saw such a chunk claimed 6-8 s after the restart, behind the others).
 */
export function recoverAfterRestart(store: Store, clock: Clock, log: Logger): string[] {
  const now = clock();
  let requeued = 0;
  const lostWork: string[] = [];
  store.tx(() => {
    for (const job of store.jobs.listInStates(["queued", "running", "paused"])) {
      for (const c of store.chunks.listByJobInState(job.id, "queued")) {
        store.chunks.transition(c.id, "pending", now, { dispatchId: null });
        requeued++;
        const last = c.attempts > 0 ? store.attempts.listByChunk(c.id).at(-1) : undefined;
        if (last !== undefined && LOST_WORK.has(last.state)) lostWork.push(c.id);
      }
    }
    for (const a of store.agents.list()) if (a.state === "online") store.agents.touch(a.id, now);
  });
  if (requeued) log.info({ requeued, lostWork: lostWork.length }, "queued chunks re-dispatched after restart");
  return lostWork;
}
