import type { Store } from "../store/store.ts";
import type { AgentRow } from "../store/agents-table.ts";
import { withdrawDispatch } from "./withdraw-dispatch.ts";
import type { PassedOver } from "./placed-take-back.ts";

/**
 * Why this file exists: lost work is placed on the least busy agent at the
 * moment it is lost (lost-work-first.ts). When most of a small farm fails at
 * once, that is the one agent left, and the lost chunks queue on its own
 * subject, each started only after the ones placed before it. In the
 * fifteenth round's soak six lost chunks went to the one agent left, behind
 * three more, while the two others came back within 1-2 s and found nothing
 * to do. No rule moved them: the take-back rules (placed-take-back.ts) see a
 * chunk its agent passes over, or leaves unclaimed while idle, not one that
 * waits its turn behind others.
 *
 * Here, lost work that lost-work-first placed, and that still waits behind
 * other work on its agent (the agent runs an attempt or has chunks placed
 * before it: two or more in hand), is taken back when another agent that may
 * run it has nothing in hand. It is then placed as lost work is (on an agent
 * that answers the roll call, not the one it came from). One chunk per idle
 * agent per look, from the agent with the most in hand, the last placed there
 * first. Only lost work: the dispatch pass's own placements (model locality,
 * tags) are its own choice. The same fencing as every take-back: the dispatch
 * is withdrawn in a transaction and a late claim of the old message is
 * refused, so two attempts never both commit.
 */

/** Least time between two looks (each reads every placeable agent's work in hand). */
export const REBALANCE_LOOK_MS = 250;

interface Placed {
  jobId: string;
  agentId: string;
  dispatchId: string;
  /** Placement order: the last placed on an agent waits longest. */
  seq: number;
}

export class LostWorkRebalance {
  private readonly placed = new Map<string, Placed>();
  private seq = 0;
  private lastLook = -Infinity;

  constructor(private readonly store: Store) {}

  /** Lost work was placed on an agent's own subject with this dispatch. */
  placedOn(chunkId: string, jobId: string, agentId: string, dispatchId: string): void {
    this.placed.set(chunkId, { jobId, agentId, dispatchId, seq: this.seq++ });
  }

  /** Whether a look is due: some placed lost work is watched (until claimed, re-placed or taken back), and the last look is REBALANCE_LOOK_MS old. */
  due(now: number): boolean {
    return this.placed.size > 0 && now - this.lastLook >= REBALANCE_LOOK_MS;
  }

  /**
   * Takes back the chunks to move (withdrawn, in one transaction), at most once per REBALANCE_LOOK_MS.
   * `takers`: the agents work may go to now (placeable, freshly heard); `inHand`: every placeable agent's running
   * attempts plus chunks placed on it (updated here as chunks are taken); `mayRun`: whether the agent may run the
   * job's chunks. A chunk on an agent not in `inHand` (not placeable: judged lost, draining) is left to the rules
   * for that agent.
   */
  takeBack(now: number, takers: readonly AgentRow[], inHand: Map<string, number>, mayRun: (agent: AgentRow, jobId: string) => boolean): PassedOver[] {
    if (!this.due(now)) return [];
    this.lastLook = now;
    return this.store.tx(() => {
      for (const [chunkId, p] of this.placed) {
        const row = this.store.chunks.get(chunkId);
        if (row?.state !== "queued" || row.dispatchId !== p.dispatchId) this.placed.delete(chunkId);
      }
      const due: PassedOver[] = [];
      for (const idle of takers) {
        if ((inHand.get(idle.id) ?? 0) > 0) continue;
        const from = this.behindOthers(idle, inHand, mayRun);
        if (!from) continue;
        const [chunkId, p] = from;
        this.placed.delete(chunkId);
        if (withdrawDispatch(this.store, chunkId, p.dispatchId, now) === undefined) continue;
        inHand.set(p.agentId, (inHand.get(p.agentId) ?? 1) - 1);
        inHand.set(idle.id, 1); // placed there next (or elsewhere by the roll call): not idle for this look
        due.push({ chunkId, jobId: p.jobId, agentId: p.agentId, dispatchId: p.dispatchId, why: "waiting behind" });
      }
      return due;
    });
  }

  /** The watched chunk `idle` may run that waits behind the most work on another agent (the last placed there). */
  private behindOthers(idle: AgentRow, inHand: ReadonlyMap<string, number>, mayRun: (agent: AgentRow, jobId: string) => boolean): [string, Placed] | undefined {
    let best: [string, Placed] | undefined;
    for (const entry of this.placed) {
      const [, p] = entry;
      const n = inHand.get(p.agentId) ?? 0;
      if (p.agentId === idle.id || n < 2 || !mayRun(idle, p.jobId)) continue;
      const bestN = best ? (inHand.get(best[1].agentId) ?? 0) : -1;
      if (n > bestN || (n === bestN && best !== undefined && p.seq > best[1].seq)) best = entry;
    }
    return best;
  }
}
