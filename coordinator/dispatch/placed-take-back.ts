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
 * When: the agent claimed a pool chunk after the placement, at least
 * `afterMs` (2 s) ago. Why pool chunks: its own subject delivers in order, so
 * claims of other chunks placed on it say nothing about this one. Why one: an
 * agent's two pulls (own subject and pool) may both deliver at once, the
 * pool's first; its claim of that pool chunk is refused while the placed one
 * waits (placed-first.ts, since the eighteenth round; before it, the pool
 * chunk ran and the placed one waited its turn behind it, so two pool claims
 * were needed here), and its next claim is the placed chunk it holds. A pool
 * claim taken after that refusal says the placed message did not come with
 * it. Why 2 s: an agent
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
 *
 * Unclaimed (the second rule): a placed chunk its agent, idle (no attempt
 * running), has not claimed within `afterMs` (2 s) of the later of the
 * placement, the end of the agent's last attempt and this coordinator's
 * start. The soak's 7.47 s recovery: lost work was placed on an agent whose
 * link had been cut 0.47 s before (still inside the freshness window), which
 * never claimed it and was judged lost only 2.5 s later; the passed-over rule
 * cannot see such an agent (it claims nothing at all). An idle agent keeps a
 * 1 s pull open on its own subject (0.5 s after a failed one), so a
 * deliverable placed message reaches it within 1.5 s, and its claim is one
 * call: 2 s is 0.5 s of margin for a loaded host. A busy agent does not pull
 * until it is free (agent/nats/work-loop.ts), hence "idle", from its last
 * attempt's end; a busy agent whose link was cut is judged lost and its
 * placed chunks revoked (copy-rules.ts revokePlacedOn). A slow but healthy
 * agent that trips it costs one refused claim (the same fencing as above:
 * its late claim of the old message is refused, exactly once holds) and the
 * chunk's placement on another freshly heard agent; with none, the chunk is
 * left where it is (the back of the pool would be a longer wait).
 *
 * After a gap (the third rule, heardAfterGap): a placed chunk its agent had
 * not claimed when that agent was heard again after a gap in its heartbeats
 * (its link cut, or the coordinator's NATS connection down) is placed again
 * at once, with a new message. A message the server handed to a pull while
 * the link was silent went into the gap: the client had given that pull up,
 * and the message waits out its ack wait, while the agent, back, pulls its
 * own subject and gets nothing (thirteenth round's soak, 3 of 16 runs: a lost
 * chunk placed 0.4-0.6 s after its agent's link was cut, or 0.1 s before a
 * nats-server kill; the agent, back, claimed pool chunks around it, and the
 * chunk was claimed only after the coordinator's restart, 7.3-8.1 s of
 * possible time after its fault). Neither rule above sees it: the agent was
 * busy, and claimed one pool chunk, not two, before the coordinator was
 * killed. The agent is not avoided: it is heard again, and a new message on
 * its own subject reaches it as well as any other. The same fencing: a claim
 * of the old message is refused.
 */

/** Least time since the agent's first claim of other work after the placement before the chunk is taken back. */
export const PLACED_TAKE_BACK_MS = 2_000;
/** Pool chunks the agent must have claimed since the placement (the refused one not counted: it made no attempt). */
export const PASSED_OVER_CLAIMS = 1;
/** Least time between two looks at the store (the dispatch passes calling takeBack may run many times a second). */
export const LOOK_EVERY_MS = 500;

/**
 * Why a placed chunk was taken back: its agent claimed pool work instead, or, idle, claimed nothing, or was heard
 * again after a gap; or, lost work only (lost-work-rebalance.ts), it waited behind other work while another agent idled.
 */
export type TakeBackReason = "passed over" | "unclaimed" | "after a gap" | "waiting behind";

export interface PassedOver {
  chunkId: string;
  jobId: string;
  /** The agent that passed it over. */
  agentId: string;
  /** The dispatch taken back (its message is to be retracted). */
  dispatchId: string;
  why: TakeBackReason;
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

/**
 * Each placed chunk still waiting, placed at or before the cutoff (the bound ago), on an agent with no attempt
 * running, with when it was placed and when that agent's last attempt ended (null: none yet). The subquery (a read
 * of the agent's attempts) runs only for the rows the WHERE keeps: none while every placed chunk is younger than
 * the bound or waits on a busy agent, as nearly always.
 */
const UNCLAIMED_SQL = `
  SELECT c.id AS chunkId, c.job_id AS jobId, c.placed_agent_id AS agentId, c.dispatch_id AS dispatchId,
         c.updated_at AS placedAt,
         (SELECT MAX(e.finished_at) FROM attempts e WHERE e.agent_id = c.placed_agent_id) AS idleSince
  FROM chunks c
  WHERE c.state = 'queued' AND c.placed_agent_id IS NOT NULL AND c.updated_at <= ?
    AND NOT EXISTS (SELECT 1 FROM attempts r WHERE r.agent_id = c.placed_agent_id AND r.state = 'running')`;

type Row = Omit<PassedOver, "why">;

export class PlacedTakeBack {
  private lastLook = -Infinity;
  /** Agents heard again after a gap in their heartbeats, with when (heardAfterGap), not looked at yet. */
  private readonly gaps = new Map<string, number>();

  private readonly afterMs: number;
  private readonly startedAt: number;
  private readonly unclaimed: boolean;

  constructor(
    private readonly store: Store,
    opts: {
      afterMs?: number;
      /** This coordinator's start: an idle agent's time before it does not count (its claims could not be answered). */
      startedAt?: number;
      /** False: only chunks passed over are taken back (as before the ninth round). */
      unclaimed?: boolean;
    } = {},
  ) {
    this.afterMs = opts.afterMs ?? PLACED_TAKE_BACK_MS;
    this.startedAt = opts.startedAt ?? -Infinity;
    this.unclaimed = opts.unclaimed ?? true;
  }

  /**
   * Takes back every placed chunk its agent passed over or, idle, did not claim (see above), in one transaction;
   * the store is read at most once per LOOK_EVERY_MS. An unclaimed one only when `elsewhere` says another freshly
   * heard agent may run it (lost-work-first.ts): with none, the pool would put it behind every queued chunk, a loss
   * when its agent is only slow, and nothing gained when its link is cut (no one else would take it sooner).
   */
  takeBack(now: number, elsewhere: (agentId: string, jobId: string) => boolean = () => true): PassedOver[] {
    const afterGap = this.takeBackAfterGaps(now);
    if (now - this.lastLook < Math.min(LOOK_EVERY_MS, this.afterMs / 2)) return afterGap;
    this.lastLook = now;
    return this.store.tx(() => {
      const due: PassedOver[] = [];
      const passed = this.store.db.prepare(PASSED_OVER_SQL).all() as Array<Row & { claims: number; firstClaimAt: number }>;
      for (const r of passed) if (r.claims >= PASSED_OVER_CLAIMS && now - r.firstClaimAt >= this.afterMs) due.push(taken(r, "passed over"));
      if (this.unclaimed && now - this.startedAt >= this.afterMs) {
        const idle = this.store.db.prepare(UNCLAIMED_SQL).all(now - this.afterMs) as Array<Row & { placedAt: number; idleSince: number | null }>;
        for (const r of idle) {
          const from = Math.max(r.placedAt, r.idleSince ?? -Infinity, this.startedAt);
          if (now - from >= this.afterMs && !due.some((d) => d.chunkId === r.chunkId) && elsewhere(r.agentId, r.jobId)) due.push(taken(r, "unclaimed"));
        }
      }
      // The gaps' chunks are pending already (takeBackAfterGaps withdrew them): the queries above do not see them.
      return [...afterGap, ...due.filter((d) => withdrawDispatch(this.store, d.chunkId, d.dispatchId, now) !== undefined)];
    });
  }

  /**
   * The agent was heard again after a gap in its heartbeats, at `at`: the chunks placed on it by then and not
   * claimed are taken back at the next takeBack() (the third rule above), not throttled by LOOK_EVERY_MS.
   */
  heardAfterGap(agentId: string, at: number): void {
    this.gaps.set(agentId, at);
  }

  /** The third rule: each chunk placed on an agent heard again after a gap, placed by then and still queued there. */
  private takeBackAfterGaps(now: number): PassedOver[] {
    if (this.gaps.size === 0) return [];
    const gaps = [...this.gaps];
    this.gaps.clear();
    return this.store.tx(() => {
      const due: PassedOver[] = [];
      for (const [agentId, at] of gaps) {
        for (const c of this.store.chunks.placedOn(agentId)) {
          const row = this.store.chunks.get(c.id);
          if (row?.state !== "queued" || row.dispatchId === null || row.updatedAt > at) continue;
          if (withdrawDispatch(this.store, row.id, row.dispatchId, now) !== undefined) due.push({ chunkId: row.id, jobId: row.jobId, agentId, dispatchId: row.dispatchId, why: "after a gap" });
        }
      }
      return due;
    });
  }
}

function taken(r: Row, why: TakeBackReason): PassedOver {
  return { chunkId: r.chunkId, jobId: r.jobId, agentId: r.agentId, dispatchId: r.dispatchId, why };
}
