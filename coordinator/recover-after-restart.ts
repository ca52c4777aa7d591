import type { Store } from "./store/store.ts";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/log.ts";
import type { AttemptState } from "../shared/lifecycle/states.ts";
import type { ChunkRow } from "./store/chunks-table.ts";

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
 * saw such a chunk claimed 6-8 s after the restart, behind the others). Also
 * the pending chunks whose last attempt was so: lost work not placed yet when
 * the coordinator died (tenth round's soak: a chunk requeued 2.1 s before the
 * kill, while nats-server was being restarted, went to the pool after the
 * restart and waited there 9 s, its agent's link cut meanwhile).
 */
export function recoverAfterRestart(store: Store, clock: Clock, log: Logger): string[] {
  const now = clock();
  let requeued = 0;
  const lostWork: string[] = [];
  store.tx(() => {
    const lastLost = (c: ChunkRow): boolean => c.attempts > 0 && LOST_WORK.has(store.attempts.listByChunk(c.id).at(-1)?.state ?? "running");
    for (const job of store.jobs.listInStates(["queued", "running", "paused"])) {
      // Read before the queued ones below join them.
      for (const c of store.chunks.listByJobInState(job.id, "pending")) if (lastLost(c)) lostWork.push(c.id);
      for (const c of store.chunks.listByJobInState(job.id, "queued")) {
        store.chunks.transition(c.id, "pending", now, { dispatchId: null });
        requeued++;
        if (lastLost(c)) lostWork.push(c.id);
      }
    }
    for (const a of store.agents.list()) if (a.state === "online") store.agents.touch(a.id, now);
  });
  if (requeued || lostWork.length) log.info({ requeued, lostWork: lostWork.length }, "queued chunks re-dispatched after restart");
  return lostWork;
}
