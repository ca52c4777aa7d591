import type { Store } from "../store/store.ts";

/**
 * Why this file exists: an agent pulls its own subject and the pool at once
 * (agent/nats/work-loop.ts), so when a chunk is placed on it (lost work
 * placed first, a taken-back chunk placed again, a re-cut piece) while a pool
 * message is also there for it, both arrive together and the agent claims
 * whichever came first. The soak (eighteenth round, seeds 108 and its
 * rerun): a lost chunk moved to an agent that had just started, whose two
 * pulls ended 11 ms apart, the pool's first; the agent claimed that pool
 * chunk, and the lost one waited behind it in the agent (4.5 s) or was lost
 * again with it when the agent's link was cut (6.3 s, 12.2 s recoveries).
 *
 * The rule: an agent's claim of a pool chunk is refused while a chunk placed
 * on that agent waits there (queued, not claimed), once per placement. The
 * pool chunk goes back to pending (the next dispatch pass sends it out
 * again; the agent acks the message it holds, as after any refusal, and a
 * late claim of that message is refused as stale), and the agent's next
 * claim is the placed chunk it holds or pulls next. Once per placement: an
 * agent whose own subject does not deliver (placed-take-back.ts names such
 * cases) is refused one pool chunk for each placed one, not kept from the
 * pool; the take-back rules then move the placed chunk.
 */

/**
 * Placements remembered; past it all are forgotten (each may then cost one more refusal). A mark made in a claim
 * whose transaction rolls back stays: that placement has had its refusal.
 */
const MAX_REMEMBERED = 10_000;

export class PlacedFirst {
  /** Dispatch ids of placed chunks a pool claim was already refused for. */
  private readonly refusedFor = new Set<string>();

  constructor(private readonly store: Store) {}

  /**
   * The id of a chunk placed on `agentId` and still waiting there that no pool claim of this agent was refused
   * for yet (it is marked so now), or undefined: the agent's claim of a pool chunk may go ahead. Reads inside
   * the claim's transaction.
   */
  refusesPoolClaim(agentId: string): string | undefined {
    for (const placed of this.store.chunks.placedOn(agentId)) {
      if (placed.dispatchId === null || this.refusedFor.has(placed.dispatchId)) continue;
      if (this.refusedFor.size >= MAX_REMEMBERED) this.refusedFor.clear();
      this.refusedFor.add(placed.dispatchId);
      return placed.id;
    }
    return undefined;
  }
}
