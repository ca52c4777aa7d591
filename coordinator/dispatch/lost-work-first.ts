import type { Store } from "../store/store.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { newId } from "../../shared/ids.ts";
import { agentInfo } from "../scheduling/farm-snapshot.ts";
import { withdrawDispatch } from "./withdraw-dispatch.ts";
import type { WorkPublisher } from "./dispatcher.ts";
import type { PassedOver, PlacedTakeBack, TakeBackReason } from "./placed-take-back.ts";
import { OutrankingWork } from "./outranking-work.ts";
import type { RollCall } from "./roll-call.ts";
import { LostWorkRebalance } from "./lost-work-rebalance.ts";

/**
 * Why this file exists: a chunk whose attempt was lost (its agent died, its
 * link was cut) goes back to pending, and the dispatch pass would give it a
 * fresh message at the back of the shared pool, behind every chunk already
 * queued there: the lost work waited for the whole queue to drain. Here such
 * a chunk is placed, before the pass, on the own subject of the eligible
 * agent with the least work in hand. An agent polls its own consumer beside
 * the pool and takes a placed message before the pool's next one, so the
 * lost chunk is the next one it starts: at once on an idle agent, after its
 * current chunk on a busy one. With no eligible agent online the pass puts it
 * in the pool; once one is online again it is taken back from the pool (its
 * message retracted, a stale copy refused at claim) and placed the same way.
 * Likewise one the pass placed on an agent's subject by its own rule while it
 * waited here (the restart settle below; tenth round's soak: a lost chunk so
 * placed behind two chunks on one agent was claimed 16.8 s after a restart,
 * another agent idle), unless lost work would go to that same agent.
 * A chunk is forgotten here once it is claimed, placed or no longer wanted.
 * With `takeBack`, a placed chunk its agent passed over, or left unclaimed
 * while idle (placed-take-back.ts), is taken back before each pass and placed
 * again the same way, on another agent than the one that passed it over (the
 * pool when there is none).
 * First among its own priority and lower only: an agent that may run a
 * higher-priority job's waiting chunks is not given a lower job's lost chunk
 * (outranking-work.ts); the chunk waits here until those are taken, or goes
 * to an agent that may not run them.
 */

/** The log line for each way a placed chunk is taken back (placed-take-back.ts). */
const TAKE_BACK_TEXT: Record<TakeBackReason, string> = {
  "passed over": "placed chunk passed over by its agent; taken back",
  unclaimed: "placed chunk not claimed by its idle agent in time; taken back",
  "after a gap": "placed chunk not claimed when its agent was heard again after a gap in its heartbeats; placed again",
  "waiting behind": "lost chunk waiting behind other work on its agent while another agent has none; taken back",
};

export interface LostWorkFirstDeps {
  store: Store;
  publisher: WorkPublisher;
  /** Latest heartbeat per agent: a draining or paused agent is not given work. */
  live: () => ReadonlyMap<string, Heartbeat>;
  /** Why the agent may not run the job's chunks (tags, memory, blocklist), or null (ClaimService.ineligible). */
  ineligible: (agent: AgentRow, job: JobRow) => string | null;
  clock: Clock;
  log: Logger;
  /**
   * Agents heard within this long (their last_seen) are preferred: a link cut a moment ago is noticed only after
   * 2-3 s of silence, and a lost chunk placed on such an agent meanwhile waited 6-8 s in the soak. None: no preference.
   */
  freshMs?: number;
  /**
   * After the start, while not every online agent is heard yet and for at most this long after the first is, an
   * agent that has work in hand is given no more lost work (settling()). None: no such wait.
   */
  settleMs?: number;
  /** Takes back placed chunks their agent passed over or left unclaimed (placed-take-back.ts); none: placed chunks wait. */
  takeBack?: PlacedTakeBack;
  /** Whether a job is held by its window (not dispatched yet): its waiting chunks outrank nothing (outranking-work.ts). None: no job is held. */
  held?: (job: JobRow, now: number) => boolean;
  /** After a restart (restarted()), the longest the pool is held back from the first pass on (holdsPool()). Default 3000. */
  restartHoldMs?: number;
  /**
   * Asked when work is lost: while it is open, lost work goes only to agents that answered it (roll-call.ts), and
   * waits for one when none has yet. None: the freshness rule alone.
   */
  rollCall?: RollCall;
}

/** What the first passes after a restart wait for before fresh pool chunks go out (holdsPool()). */
interface RestartHold {
  /** Attempts running at the restart: each is named by its agent's heartbeat again, or ends (handed back, lost, committed). */
  attempts: ReadonlySet<string>;
  /** Lost chunks no placeable agent may run: not waited for. */
  unplaceable: Set<string>;
  /** The first pass's time: the pool goes out restartHoldMs later at the latest. */
  from?: number;
  /** When the first agent was heard since the start: one not heard settleMs later is not waited for. */
  firstHeardAt?: number;
}

export class LostWorkFirst {
  /** When an agent was first placeable (heard since this coordinator started); undefined until then. */
  private firstHeardAt: number | undefined;
  /** Chunks requeued after a lost attempt, not placed yet. */
  private readonly lost = new Set<string>();
  /** Of those, chunks taken back from an agent that passed them over: that agent, not to be given them again. */
  private readonly avoid = new Map<string, string>();
  /** Set by restarted() until the pool may go out. */
  private hold: RestartHold | undefined;
  /** Lost work placed here, moved to an agent with nothing in hand while it waits behind other work (lost-work-rebalance.ts). */
  private readonly rebalance: LostWorkRebalance;

  constructor(private readonly d: LostWorkFirstDeps) {
    this.rebalance = new LostWorkRebalance(d.store);
  }

  /** A lost attempt's chunk went back to pending (ClaimService). */
  requeued(chunkId: string): void {
    this.lost.add(chunkId);
    this.d.rollCall?.call();
  }

  get waiting(): number {
    return this.lost.size;
  }

  /**
   * The coordinator started again: `lostWork` is the lost work recover-after-restart.ts named (each also
   * requeued here), `runningAttempts` the attempts the store held running then. Until holdsPool() says
   * otherwise, the dispatch pass publishes no fresh pool chunk.
   */
  restarted(lostWork: readonly string[], runningAttempts: readonly string[]): void {
    for (const id of lostWork) this.requeued(id);
    if (lostWork.length > 0 || runningAttempts.length > 0) this.hold = { attempts: new Set(runningAttempts), unplaceable: new Set() };
  }

  /**
   * True while the first passes after a restart must not publish fresh pool chunks (the dispatch pass waits;
   * place() runs meanwhile): some lost work named at the restart is not placed yet, or some attempt running
   * at the restart is neither named by its agent's latest heartbeat nor ended. An agent's chunk that died with
   * the old process comes back (its hand-back, or the rule for attempts from before the start) as lost work
   * a moment after the restart; published first, the pool's chunks went to the idle agents and the lost ones
   * waited behind them, one chunk each (tenth round's soak: 8-14 s at load 20-30). An agent not heard since the
   * start is waited for only while the agents are being heard (settleMs from the first one heard, as settling()):
   * one killed or cut off meanwhile is never heard, and waiting for it held the pool to the bound (twelfth round);
   * its attempts are judged lost by the liveness rule later and placed first then. Bounded by restartHoldMs
   * from the first call; false for good once it is over.
   */
  holdsPool(): boolean {
    const h = this.hold;
    if (h === undefined) return false;
    const now = this.d.clock();
    h.from ??= now;
    const live = this.d.live();
    // Any agent heard since the start, busy or not (placeable() counts only those that take work now).
    if (this.d.store.agents.listLiveness("online").some((a) => live.has(a.id))) h.firstHeardAt ??= now;
    const settleMs = this.d.settleMs;
    const unheardWaited = settleMs === undefined || h.firstHeardAt === undefined || now - h.firstHeardAt < settleMs;
    // Attempts running at the restart that are still running: their agents' latest heartbeats (undefined: not heard since the start).
    const running: Array<{ id: string; hb: Heartbeat | undefined }> = [];
    for (const id of h.attempts) {
      const a = this.d.store.attempts.get(id);
      if (a?.state === "running") running.push({ id, hb: live.get(a.agentId) });
    }
    const notHeard = running.filter((r) => r.hb === undefined).length;
    const open = running.some(({ id, hb }) => (hb === undefined ? unheardWaited : hb.attemptId !== id && !(hb.otherAttemptIds ?? []).includes(id)));
    // Lost work not placed yet: named at the restart, or come back since (a hand-back, an attempt judged lost).
    const unplaced = (id: string): boolean => !h.unplaceable.has(id) && this.d.store.chunks.get(id)?.state === "pending";
    const byBound = now - h.from >= (this.d.restartHoldMs ?? 3000);
    const waits = !byBound && (open || [...this.lost].some(unplaced));
    if (!waits) {
      this.hold = undefined;
      // byBound: released by restartHoldMs, not because all was placed; notHeard: attempts of agents not heard since the start, not waited for.
      this.d.log.info({ heldMs: now - h.from, byBound, notHeard }, "pool released after the restart's lost work");
    }
    return waits;
  }

  /**
   * Places each requeued chunk that is still pending on an agent's own subject, then publishes it.
   * `published` and `onPlaced` are the dispatch pass's (message tracking for retraction, asset prefetch).
   */
  async place(published?: Map<string, { dispatchId: string; seq: number }>, onPlaced?: (agentId: string, jobId: string) => void): Promise<void> {
    const now = this.d.clock();
    if (this.d.takeBack) this.takeBackPassedOver(now, published);
    if (this.rebalance.due(now)) this.takeBackWaitingBehind(now, published);
    if (this.lost.size === 0) return;
    const placed = this.d.store.tx(() => this.choose(now));
    for (const p of placed) {
      try {
        const seq = await this.d.publisher.publish({ chunkId: p.chunkId, jobId: p.jobId, dispatchId: p.dispatchId }, p.agentId);
        this.forget(p.chunkId);
        this.rebalance.placedOn(p.chunkId, p.jobId, p.agentId, p.dispatchId);
        const sent = published?.get(p.chunkId);
        if (sent !== undefined && sent.dispatchId === p.takenFrom) void this.d.publisher.retract?.(sent.seq).catch(() => undefined);
        if (typeof seq === "number") published?.set(p.chunkId, { dispatchId: p.dispatchId, seq });
        onPlaced?.(p.agentId, p.jobId);
        this.d.log.info({ chunkId: p.chunkId, agentId: p.agentId }, "lost chunk placed first");
      } catch (err) {
        // Back to pending and kept here: the next pass tries again.
        this.d.store.tx(() => withdrawDispatch(this.d.store, p.chunkId, p.dispatchId, now));
        this.d.log.warn({ err: (err as Error).message, chunkId: p.chunkId }, "publishing a lost chunk failed; chunk back to pending");
      }
    }
  }

  /** Placed chunks their agent passed over or left unclaimed go back to pending (placed-take-back.ts), their messages retracted, to be placed again. */
  private takeBackPassedOver(now: number, published?: Map<string, { dispatchId: string; seq: number }>): void {
    for (const p of this.d.takeBack?.takeBack(now, (agentId, jobId) => this.freshElsewhere(now, agentId, jobId)) ?? []) this.takenBack(p, published);
  }

  /** Lost work placed here that waits behind other work while a freshly heard agent that may run it has none (lost-work-rebalance.ts). */
  private takeBackWaitingBehind(now: number, published?: Map<string, { dispatchId: string; seq: number }>): void {
    const agents = this.placeable();
    const freshMs = this.d.freshMs ?? Infinity;
    const inHand = new Map<string, number>(agents.map((a) => [a.id, workInHand(this.d.store, a.id)]));
    // As choose() will judge it: eligible, and not an agent that higher-priority waiting work goes to first.
    const outranking = new OutrankingWork(this.d.store, now, this.d.ineligible, this.d.held);
    const mayRun = (a: AgentRow, jobId: string): boolean => {
      const job = this.d.store.jobs.get(jobId);
      return job !== undefined && this.d.ineligible(a, job) === null && !outranking.outranks(a, job.priority);
    };
    const takers = agents.filter((a) => now - a.lastSeen <= freshMs);
    for (const p of this.rebalance.takeBack(now, takers, inHand, mayRun)) this.takenBack(p, published);
  }

  /** A placed chunk taken back (its dispatch withdrawn): its message retracted, and it waits here to be placed again. */
  private takenBack(p: PassedOver, published?: Map<string, { dispatchId: string; seq: number }>): void {
    const sent = published?.get(p.chunkId);
    if (sent !== undefined && sent.dispatchId === p.dispatchId) {
      published?.delete(p.chunkId);
      void this.d.publisher.retract?.(sent.seq).catch(() => undefined);
    }
    this.lost.add(p.chunkId);
    // Placed again on an agent that answers (roll-call.ts): the soak's taken-back chunk went to one cut 50 ms before.
    this.d.rollCall?.call();
    // After a gap the agent is heard again: a new message on its own subject reaches it (placed-take-back.ts).
    if (p.why !== "after a gap") this.avoid.set(p.chunkId, p.agentId);
    this.d.log.warn({ chunkId: p.chunkId, agentId: p.agentId }, TAKE_BACK_TEXT[p.why]);
  }

  /**
   * Whether an agent other than `agentId`, heard within freshMs (any heard agent without freshMs), may run the job's
   * chunks now: an unclaimed chunk is taken back only then (placed-take-back.ts). A slow but healthy agent that trips
   * the bound with nowhere else to go keeps its chunk, where the pool would put it behind every chunk queued there.
   */
  private freshElsewhere(now: number, agentId: string, jobId: string): boolean {
    const job = this.d.store.jobs.get(jobId);
    const freshMs = this.d.freshMs ?? Infinity;
    return job !== undefined && this.placeable().some((a) => a.id !== agentId && now - a.lastSeen <= freshMs && this.d.ineligible(a, job) === null);
  }

  /**
   * Agents work may be placed on: online, accepting, and heard since the coordinator started (a heartbeat in
   * `live`). After a restart every agent is still online in the store, but one whose link was cut meanwhile has sent
   * nothing since: a chunk placed on it would wait until it is judged lost (the soak saw a handed-back chunk wait
   * 3-10 s so).
   */
  private placeable(): AgentRow[] {
    const live = this.d.live();
    return this.d.store.agents.list().filter((a) => {
      const hb = live.get(a.id);
      return a.state === "online" && hb !== undefined && agentInfo(a, hb).accepting;
    });
  }

  /**
   * True within `settleMs` of the first agent heard since the start while some online agent is not heard yet: a
   * restarted coordinator hears its agents one by one over about a heartbeat period, and lost work placed meanwhile
   * piled on the first heard (the soak: 4 chunks on one agent within 0.6 s, the last claimed 13 s later, while the
   * other two were heard a moment after). Meanwhile an agent is given a lost chunk only with nothing in hand.
   */
  private settling(now: number, heard: number): boolean {
    const settleMs = this.d.settleMs;
    if (settleMs === undefined || this.firstHeardAt === undefined || now - this.firstHeardAt >= settleMs) return false;
    return this.d.store.agents.listLiveness("online").length > heard;
  }

  private forget(chunkId: string): void {
    this.lost.delete(chunkId);
    this.avoid.delete(chunkId);
  }

  /** In one transaction: each placeable chunk queued on its agent (taken back from the pool first when it waits there). */
  private choose(now: number): Placed[] {
    // With none placeable (heard since the start) yet, the chunk waits in the pool, where any agent that is back may
    // take it, and is placed once one is heard.
    const agents = this.placeable();
    if (agents.length > 0) this.firstHeardAt ??= now;
    const inHand = new Map<string, number>(agents.map((a) => [a.id, workInHand(this.d.store, a.id)]));
    const settling = this.settling(now, agents.length);
    const outranking = new OutrankingWork(this.d.store, now, this.d.ineligible, this.d.held);
    const rollOpen = this.d.rollCall?.open(now) === true;
    const out: Placed[] = [];
    for (const chunkId of this.lost) {
      const chunk = this.d.store.chunks.get(chunkId);
      const job = chunk ? this.d.store.jobs.get(chunk.jobId) : undefined;
      // Queued and still in this set: the dispatch pass queued it meanwhile (this class forgets what it placed), in
      // the pool or, by its own rule, on an agent's subject: taken back when lost work goes elsewhere (below).
      const queued = chunk?.state === "queued";
      if (!chunk || (chunk.state !== "pending" && !queued) || !job || (job.state !== "running" && job.state !== "queued")) {
        this.forget(chunkId);
        continue;
      }
      const avoid = this.avoid.get(chunkId);
      // Not an agent that may run a higher-priority job's waiting chunks: those go first there (outranking-work.ts).
      const eligible = agents.filter((a) => a.id !== avoid && this.d.ineligible(a, job) === null && !outranking.outranks(a, job.priority));
      const freshMs = this.d.freshMs;
      const fresh = freshMs === undefined ? [] : eligible.filter((a) => now - a.lastSeen <= freshMs);
      // While the roll call is open, only an agent that answered it: one heard a moment ago may have its link cut since.
      const answered = rollOpen ? eligible.filter((a) => this.d.rollCall?.answered(a.id) === true) : undefined;
      if (answered?.length === 0 && eligible.length > 0) continue; // placed at the first answer, or by the rule below once it closes
      const agent = answered ? leastBusy(answered, inHand) : (leastBusy(fresh, inHand) ?? leastBusy(eligible, inHand));
      if (!agent) {
        if (agents.length > 0) this.hold?.unplaceable.add(chunkId); // agents are heard and none takes it now: not waited for
        continue; // none may run it now, or each that may has higher-priority work waiting: the pass decides
      }
      if (settling && (inHand.get(agent.id) ?? 0) > 0) continue; // the pass's meanwhile; placed once the others are heard
      if (queued && chunk.placedAgentId === agent.id) {
        this.forget(chunkId); // already waits there; placed again it would go behind that agent's other placed chunks
        continue;
      }
      const takenFrom = queued ? chunk.dispatchId : null;
      if (queued) this.d.store.chunks.transition(chunkId, "pending", now, { dispatchId: null });
      const dispatchId = newId("dsp", now);
      this.d.store.chunks.transition(chunkId, "queued", now, { dispatchId, placedAgentId: agent.id });
      inHand.set(agent.id, (inHand.get(agent.id) ?? 0) + 1);
      out.push({ chunkId, jobId: job.id, agentId: agent.id, dispatchId, takenFrom });
    }
    return out;
  }
}

interface Placed {
  chunkId: string;
  jobId: string;
  agentId: string;
  dispatchId: string;
  /** The dispatch id of the message it was taken back from (the pool's, or one the pass placed); null when it was pending. */
  takenFrom: string | null;
}

/** Attempts the agent runs plus chunks waiting on its own subject. */
function workInHand(store: Store, agentId: string): number {
  return store.attempts.runningForAgent(agentId).length + store.chunks.placedOn(agentId).length;
}

/**
 * The agent with the least work in hand; ties: the one heard last (an agent whose link was cut a moment ago is
 * still fresh, but its last heartbeat is older than a healthy one's, as in the soak's 7.47 s: a tie by name put
 * lost work on such an agent), then by name for a stable choice. Undefined when there is none.
 */
function leastBusy(agents: readonly AgentRow[], inHand: ReadonlyMap<string, number>): AgentRow | undefined {
  let best: AgentRow | undefined;
  for (const a of agents) {
    const n = inHand.get(a.id) ?? 0;
    const b = best ? (inHand.get(best.id) ?? 0) : Infinity;
    const tieWon = best !== undefined && (a.lastSeen > best.lastSeen || (a.lastSeen === best.lastSeen && a.name < best.name));
    if (n < b || (n === b && tieWon)) best = a;
  }
  return best;
}
