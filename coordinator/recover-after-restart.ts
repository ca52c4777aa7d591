import type { Store } from "./store/store.ts";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/log.ts";

/**
 * Start-up repair of the store after a stop or crash:
 * - queued chunks are re-dispatched (their old messages, if JetStream still
 *   holds them, carry a stale dispatch id and are skipped by the claim);
 * - agents that were online get a fresh grace period: a live agent's next
 *   heartbeat keeps it, a dead one times out and its attempts are requeued.
 *   Running attempts are kept, so an agent that was mid-chunk can still commit.
 */
export function recoverAfterRestart(store: Store, clock: Clock, log: Logger): void {
  const now = clock();
  let requeued = 0;
  store.tx(() => {
    for (const job of store.jobs.listInStates(["queued", "running", "paused"])) {
      for (const c of store.chunks.listByJobInState(job.id, "queued")) {
        store.chunks.transition(c.id, "pending", now, { dispatchId: null });
        requeued++;
      }
    }
    for (const a of store.agents.list()) if (a.state === "online") store.agents.touch(a.id, now);
  });
  if (requeued) log.info({ requeued }, "queued chunks re-dispatched after restart");
}
