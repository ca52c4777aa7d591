import type { Store } from "../store/store.ts";
import { withdrawDispatch } from "./withdraw-dispatch.ts";

/**
 * Why this file exists: a chunk placed on an agent's own subject (lost work
 * placed first, a re-cut piece, a job only some agents may run) waits there
 * until that agent pulls it. The soak saw such chunks passed over for 4-18 s
 * after a restart: the agent was back and took pool chunks one after another,
 * but its own-subject pulls were not delivering (the cause found was in the
 * agent, agent/nats/work-loop.ts: a consumer look-up lost in a cut link and
 * waited on for 5 s after the reconnect). Whatever stalls that path, the
 * evidence is in the store: the agent has claimed pool work since the
 * placement, and not this chunk. This rule takes such a chunk back.
 *
 * When: the agent claimed at least two pool chunks after the placement, and
 * the first of them at least `afterMs` (2 s) ago. Why pool chunks: its own
 * subject delivers in order, so claims of other chunks placed on it say
 * nothing about this one. Why two: a busy agent's two pulls (own subject and
 * pool) may both deliver at once when it frees up; the pool's may win, and
 * the placed one then waits its turn in the agent and is its next claim, so
 * one pool claim is no sign of trouble, a second one is. Why 2 s: an agent
 * that pulls the pool pulls its own subject alongside, each pull open for
 * 1 s, and after a failed pull tries again 0.5 s later; a placed message it
 * could get has reached it within 1.5 s of it taking pool work. Well inside
 * the 5 s the issue allows a recovery.
 *
 * How: in one transaction the chunk goes back to pending with its dispatch id
 * cleared (withdrawDispatch, only if that dispatch is still the chunk's
 * current one), so the first agent's late claim of the old message is refused
 * at claim ("chunk is pending", or "stale dispatch" once it is placed again):
 * the same fencing as every re-dispatch, so two attempts never both commit.
 * The caller (lost-work-first.ts) retracts the old message and places the
 * chunk again, first on another agent.
 */

/** Least time since the agent's first claim of other work after the placement before the chunk is taken back. */
export const PLACED_TAKE_BACK_MS = 2_000;
/** Pool chunks the agent must have claimed since the placement. */
export const PASSED_OVER_CLAIMS = 2;

export interface PassedOver {
  chunkId: string;
  jobId: string;
  /** The agent that passed it over. */
  agentId: string;
  /** The dispatch taken back (its message is to be retracted). */
  dispatchId: string;
}

/**
 * Each placed chunk still waiting, with the claims its agent made of pool chunks (placed on no agent) since it was
 * placed (a queued chunk's updated_at is when it was queued). Uses chunks_by_state and attempts_by_agent_state.
 */
const PASSED_OVER_SQL = `
  SELECT c.id AS chunkId, c.job_id AS jobId, c.placed_agent_id AS agentId, c.dispatch_id AS dispatchId,
         COUNT(a.id) AS claims, MIN(a.created_at) AS firstClaimAt
  FROM chunks c
  JOIN attempts a ON a.agent_id = c.placed_agent_id AND a.created_at > c.updated_at
  JOIN chunks pc ON pc.id = a.chunk_id AND pc.placed_agent_id IS NULL
  WHERE c.state = 'queued' AND c.placed_agent_id IS NOT NULL
  GROUP BY c.id`;

export class PlacedTakeBack {
  private lastLook = -Infinity;

  constructor(
    private readonly store: Store,
    private readonly afterMs = PLACED_TAKE_BACK_MS,
  ) {}

  /**
   * Takes back every placed chunk its agent passed over (see above), in one transaction; the store is read at most
   * once per half `afterMs` (the dispatch passes calling this may run many times a second).
   */
  takeBack(now: number): PassedOver[] {
    if (now - this.lastLook < this.afterMs / 2) return [];
    this.lastLook = now;
    return this.store.tx(() => {
      const rows = this.store.db.prepare(PASSED_OVER_SQL).all() as Array<PassedOver & { claims: number; firstClaimAt: number }>;
      const out: PassedOver[] = [];
      for (const r of rows) {
        if (r.claims < PASSED_OVER_CLAIMS || now - r.firstClaimAt < this.afterMs) continue;
        if (withdrawDispatch(this.store, r.chunkId, r.dispatchId, now) === undefined) continue;
        out.push({ chunkId: r.chunkId, jobId: r.jobId, agentId: r.agentId, dispatchId: r.dispatchId });
      }
      return out;
    });
  }
}
