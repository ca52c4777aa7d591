import type { Store } from "../store/store.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { newId } from "../../shared/ids.ts";
import type { ChunkWork, WorkInput } from "../../shared/protocol/messages.ts";
import type { FarmPolicy } from "./farm-policy.ts";
import type { ChunkRow } from "../store/chunks-table.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { AttemptRow } from "../store/attempts-table.ts";
import type { AgentRow } from "../store/agents-table.ts";
import { claimCopy, isCopyDispatch, revokePlacedOn, settleCopy } from "../scheduling/copy-rules.ts";
import { withdrawDispatch } from "./withdraw-dispatch.ts";

import { TurnBatch } from "./turn-batch.ts";
import { NextClaimKeys } from "./next-claim-keys.ts";
import { PlacedFirst } from "./placed-first.ts";

/** Pending chunks a claim for the next chunk tries, best first: a few, since agents finishing together pick alike. */
const NEXT_PICKS = 4;
/** Dispatch ids of chunks claimed by answer (never published) start with this. */
export const ANSWERED_PREFIX = "ans";

/**
 * A claim's answer. `handedBack`: the refusal sent the chunk back to pending or cleared a copy's dispatch, so a
 * dispatch pass may place it elsewhere (answered() asks for one).
 */
export type ClaimResult = { skip: true; reason: string; handedBack?: true } | { skip: false; attemptId: string; work: ChunkWork };
export type FailureOutcome = "retry" | "failed" | "ignored";

/** Builds the agent-facing work description of a chunk; supplied by the job module. */
export type WorkDescriber = (job: JobRow, chunk: ChunkRow) => { input: WorkInput | null; steps: ChunkWork["steps"] };

/**
 * Claims and failures: the rules that turn a pulled work message into exactly
 * one live attempt, and a failed attempt into a retry or a failed chunk. Pure
 * store logic; the gRPC gateway calls it.
 */
export class ClaimService {
  constructor(
    private readonly store: Store,
    private readonly policy: FarmPolicy,
    private readonly describe: WorkDescriber,
    private readonly clock: Clock,
    private readonly log: Logger,
    /**
     * Called after a chunk goes back to pending or changes in a way the dispatcher or finisher cares about.
     * `jobMayEnd` false: nothing that could end the job changed (a claim refused to its agent: the chunk only
     * went back from queued to pending), so only the dispatcher needs to hear it (claim-changes.ts).
     */
    private readonly onChange: (jobId: string, jobMayEnd?: boolean) => void,
    /** A lost or handed-back attempt's chunk went back to pending (lost-work-first.ts places it ahead of the queue). */
    private readonly onLostRequeued: (chunkId: string) => void = () => undefined,
    /**
     * The pending chunks an agent's claim for its next chunk may take, best first (Dispatcher.nextFor: the
     * pass's own placement); none: such claims are not answered (the coordinator's `claimNext` option off).
     */
    private readonly pickNext?: (agentId: string, max: number) => string[],
  ) {
    this.batch = new TurnBatch(store);
    this.placedFirst = new PlacedFirst(store);
  }

  /** The shared transaction of the claims of one event-loop turn. */
  readonly batch: TurnBatch;

  /** Why an agent may not run a job's chunks (tags, memory), or null; set by the coordinator (coordinator/scheduling/). */
  ineligible: (agent: AgentRow, job: JobRow) => string | null = () => null;

  /** Claims in a transaction of its own. `delivery`: the work message's JetStream delivery count as the agent saw it (0: not sent). */
  claim(agentId: string, chunkId: string, dispatchId: string, delivery = 0): ClaimResult {
    return this.answered(agentId, chunkId, delivery, this.store.tx(() => this.take(agentId, chunkId, dispatchId)));
  }

  /**
   * Claims in the transaction shared by every claim of this event-loop turn
   * (turn-batch.ts); resolves once that transaction committed, so the agent's
   * answer still follows the durable write. A claim refused or failing does not
   * spoil the others of its batch.
   */
  async claimBatched(agentId: string, chunkId: string, dispatchId: string, delivery = 0): Promise<ClaimResult> {
    return this.answered(agentId, chunkId, delivery, await this.batch.run(() => this.take(agentId, chunkId, dispatchId)));
  }

  /** Whether claims for "the next chunk for me" are answered here. */
  get answersNext(): boolean {
    return this.pickNext !== undefined;
  }

  /**
   * "The next chunk for me": the agent pulled no message. A chunk picked by the pass's placement rule is
   * queued for this agent and claimed, in this turn's shared transaction, exactly as a claim of its work
   * message would be; no message is ever published for it (the pass plans only pending chunks). Skip
   * ("none") when nothing is picked, or every pick was taken meanwhile or refused: the agent pulls.
   */
  async claimNextBatched(agentId: string, key = ""): Promise<ClaimResult> {
    if (key === "") return this.claimPicked(agentId);
    const earlier = this.nextKeys.earlier(agentId, key);
    // Kept at once, before any await: a repeat arriving while this one is still being claimed waits for it.
    const answer = earlier === undefined ? this.claimPicked(agentId) : this.answeredAgain(agentId, earlier);
    this.nextKeys.remember(agentId, key, answer);
    return answer;
  }

  /** Each agent's last key of a claim for its next chunk, and the answer it got (next-claim-keys.ts). */
  private readonly nextKeys = new NextClaimKeys();

  /** A pool chunk's claim refused while work placed on the agent waits there, once per placement (placed-first.ts). */
  private readonly placedFirst: PlacedFirst;

  /**
   * A repeated key (the agent did not get its answer: the claim stream broke under it, or it was an error):
   * the attempt that key took while it is still this agent's live attempt of its chunk; otherwise (none was
   * taken, or the attempt is over) the ask is claimed afresh.
   */
  private async answeredAgain(agentId: string, earlier: Promise<ClaimResult>): Promise<ClaimResult> {
    const r = await earlier.catch(() => undefined);
    const attempt = r === undefined || r.skip ? undefined : this.store.attempts.get(r.attemptId);
    if (r === undefined || attempt?.state !== "running" || attempt.agentId !== agentId || this.store.chunks.get(attempt.chunkId)?.currentAttemptId !== attempt.id) {
      return this.claimPicked(agentId);
    }
    this.log.info({ agentId, chunkId: attempt.chunkId, attemptId: attempt.id }, "next chunk answered again (its answer was lost)");
    return r;
  }

  /** Claims the first pick still pending for the agent, in the turn's shared transaction; skip ("none") if none. */
  private async claimPicked(agentId: string): Promise<ClaimResult> {
    const picks = this.pickNext?.(agentId, NEXT_PICKS) ?? [];
    if (picks.length === 0) return { skip: true, reason: "none" };
    const result = await this.batch.run((): ClaimResult => {
      const now = this.clock();
      for (const chunkId of picks) {
        const r = this.take(agentId, chunkId, newId(ANSWERED_PREFIX, now), true);
        if (!r.skip) return r;
      }
      return { skip: true, reason: "none" };
    });
    if (!result.skip) this.log.info({ agentId, chunkId: result.work.chunkId, attemptId: result.attemptId }, "next chunk claimed");
    return result;
  }

  /**
   * The claim's store work; runs inside a transaction. `picked`: a pending chunk picked for a claim for the
   * next chunk (claimNextBatched), taken straight to running, with `dispatchId` and this agent as its
   * placement, in one UPDATE (it was queued and then claimed, two UPDATEs in the same transaction, so no
   * reader ever saw the queued step); refused, it stays pending as it was.
   */
  private take(agentId: string, chunkId: string, dispatchId: string, picked = false): ClaimResult {
    const now = this.clock();
    // The chunk before the agent: a chunk not there for this claim (a pick already taken, a stale message) is
    // refused without the agent's row read. Those refusals write nothing, so the agent's check still comes
    // before every write; a removed agent hears "chunk is ..." for such a chunk instead of "agent not enrolled".
    const chunk = this.store.chunks.get(chunkId);
    if (!chunk) return { skip: true, reason: "unknown chunk" };
    // A speculative copy: a second live attempt of a running chunk, allowed only for the copy's own dispatch id.
    const copy = !picked && isCopyDispatch(chunk, dispatchId);
    if (!copy && chunk.state !== (picked ? "pending" : "queued")) return { skip: true, reason: `chunk is ${chunk.state}` };
    if (!copy && !picked && chunk.dispatchId !== dispatchId) return { skip: true, reason: "stale dispatch" };
    const agent = this.store.agents.get(agentId);
    if (!agent || agent.state === "removed") {
      // The agent acks the message after a skip: its chunk goes back to pending now (a copy's dispatch is cleared),
      // as other refusals to the agent do, instead of waiting queued for the placed take-back or a sweep.
      if (picked) return { skip: true, reason: "agent not enrolled" };
      withdrawDispatch(this.store, chunk.id, dispatchId, now);
      return { skip: true, reason: "agent not enrolled", handedBack: true };
    }
    const job = this.store.jobs.get(chunk.jobId);
    if (!job) return { skip: true, reason: "unknown job" };
    if (copy) {
      if ((job.state !== "running" && job.state !== "queued") || this.store.blocklist.isBlocked(job.id, agentId) || this.ineligible(agent, job) !== null) {
        // The agent acks the message after a skip: the copy's dispatch is cleared, so that a pass may place it elsewhere.
        withdrawDispatch(this.store, chunk.id, dispatchId, now);
        return { skip: true, reason: "copy not wanted", handedBack: true };
      }
      const c = claimCopy(this.store, chunk, agentId, now);
      if ("skip" in c) return { skip: true, reason: c.skip };
      return { skip: false, attemptId: c.attemptId, work: this.work(job, chunk, c.attemptId) };
    }
    // A refused chunk goes back to pending (a picked one is still there), or is cancelled with its job.
    // `handBack`: refused for the agent's sake, the chunk may go elsewhere (a paused or cancelled job's may not).
    const refused = (to: "pending" | "cancelled", reason: string, handBack = false): ClaimResult => {
      if (picked && to === "pending") return { skip: true, reason };
      this.store.chunks.transition(chunk.id, to, now, { dispatchId: null });
      return handBack ? { skip: true, reason, handedBack: true } : { skip: true, reason };
    };
    if (job.state === "paused" || job.state === "cancelled") return refused(job.state === "paused" ? "pending" : "cancelled", `job is ${job.state}`);
    if (this.store.blocklist.isBlocked(job.id, agentId)) return refused("pending", "agent is blocklisted for this job", true);
    const why = this.ineligible(agent, job);
    if (why !== null) return refused("pending", `agent ${why}`, true);
    if (!picked && chunk.placedAgentId === null) {
      const placed = this.placedFirst.refusesPoolClaim(agentId);
      if (placed !== undefined) return refused("pending", `work placed on this agent waits (${placed})`, true);
    }
    if (job.state === "queued") this.store.jobs.transition(job.id, "running", now);
    const attemptId = newId("att", now);
    this.store.attempts.insert({ id: attemptId, chunkId, jobId: job.id, agentId, createdAt: now });
    const placed = picked ? { dispatchId, placedAgentId: agentId } : {};
    const running = this.store.chunks.transition(chunk.id, "running", now, { currentAttemptId: attemptId, countAttempt: true, ...placed }, chunk);
    return { skip: false, attemptId, work: this.work(job, running, attemptId) };
  }

  /**
   * After the claim's commit: its log line, and a dispatch pass when the agent was refused the chunk. The line
   * names the message's delivery when it was delivered before (a pool message handed back by busy agents, a
   * redelivery after an ack wait or a nak): how long a chunk went round before an agent took it.
   */
  private answered(agentId: string, chunkId: string, delivery: number, result: ClaimResult): ClaimResult {
    const again = delivery > 1 ? { delivery } : {};
    if (result.skip) this.log.info({ agentId, chunkId, reason: result.reason, ...again }, "claim skipped");
    else this.log.info({ agentId, chunkId, attemptId: result.attemptId, ...again }, "chunk claimed");
    // The chunk went back to pending, or a copy's dispatch was cleared: nothing that could end the job changed.
    if (result.skip && result.handedBack) this.onChange(this.store.chunks.get(chunkId)?.jobId ?? "", false);
    return result;
  }

  private work(job: JobRow, chunk: ChunkRow, attemptId: string): ChunkWork {
    const { input, steps } = this.describe(job, chunk);
    return {
      jobId: job.id,
      chunkId: chunk.id,
      attemptId,
      frameStart: chunk.frameStart,
      frameEnd: chunk.frameEnd,
      contextStart: chunk.contextStart,
      contextEnd: chunk.contextEnd,
      seed: job.seed,
      input,
      steps,
      ackWaitSeconds: this.policy.ackWaitSeconds,
    };
  }

  /** Keeps an attempt's tool output; only the agent that ran the attempt may report it. */
  recordLog(agentId: string, attemptId: string, text: string): void {
    const attempt = this.store.attempts.get(attemptId);
    if (!attempt || attempt.agentId !== agentId) return;
    this.store.attemptLogs.put(attemptId, text, this.clock());
  }

  /** An attempt failed (executor error) or was handed back by a draining agent. */
  reportFailure(agentId: string, attemptId: string, error: string, handedBack: boolean): FailureOutcome {
    let requeued: string | undefined;
    const outcome = this.store.tx((): FailureOutcome => {
      const now = this.clock();
      const attempt = this.store.attempts.get(attemptId);
      if (!attempt || attempt.agentId !== agentId || attempt.state !== "running") return "ignored";
      this.store.attempts.finish(attemptId, handedBack ? "handed-back" : "failed", now, error);
      const chunk = this.store.chunks.get(attempt.chunkId);
      // One of a speculative pair: the other attempt goes on alone.
      if (chunk && settleCopy(this.store, chunk, attemptId) !== "none") return "ignored";
      if (!chunk || chunk.state !== "running" || chunk.currentAttemptId !== attemptId) return "ignored";
      if (handedBack) {
        this.store.chunks.transition(chunk.id, "pending", now, { currentAttemptId: null, dispatchId: null });
        requeued = chunk.id;
        return "retry";
      }
      // Blocklisted for the job after failing several different chunks of it; one poison chunk retried on the
      // same agent does not count more than once (the chunk's own failure limit handles that).
      const block = this.store.attempts.failedChunkCount(attempt.jobId, agentId) >= this.policy.blocklistAfter;
      const entry = this.store.blocklist.recordFailure(attempt.jobId, agentId, error, block, now);
      if (entry.blockedAt === now) this.log.warn({ jobId: attempt.jobId, agentId, failures: entry.failures }, "agent blocklisted for this job");
      const failedAgents = this.store.attempts.failedAgentsForChunk(chunk.id);
      const failures = chunk.failures + 1;
      if (failedAgents.length >= this.policy.maxAgentsPerChunk || failures >= this.policy.maxFailuresPerChunk) {
        const message = `failed on ${failedAgents.length} agent(s), ${failures} time(s); last error: ${error}`;
        this.store.chunks.transition(chunk.id, "failed", now, { currentAttemptId: null, error: message, countFailure: true });
        return "failed";
      }
      this.store.chunks.transition(chunk.id, "pending", now, { currentAttemptId: null, dispatchId: null, error, countFailure: true });
      return "retry";
    });
    this.log.warn({ agentId, attemptId, outcome, handedBack, error }, "attempt failed");
    // Work handed back (an agent stopping, or its report of work it could not finish while the coordinator was
    // down) is placed first, as lost work is: it was running, and its frames are the night's oldest.
    if (requeued !== undefined) this.onLostRequeued(requeued);
    const attempt = this.store.attempts.get(attemptId);
    if (attempt) this.onChange(attempt.jobId);
    return outcome;
  }

  /**
   * A work message JetStream gave up on (it reached the consumer's delivery
   * limit without being claimed, e.g. bounced between busy agents): the chunk
   * goes back to pending for a fresh message. Nothing happens when the message
   * is no longer the chunk's current one. True when the chunk was put back.
   */
  dropUndelivered(chunkId: string, dispatchId: string): boolean {
    const jobId = this.store.tx(() => withdrawDispatch(this.store, chunkId, dispatchId, this.clock()));
    if (jobId === undefined) return false;
    this.onChange(jobId);
    return true;
  }

  /** An agent went silent: its running attempts are lost and their chunks go back to the queue. */
  loseAgentAttempts(agentId: string, reason: string): number {
    // Chunks placed on its own subject and not claimed yet go back to be placed elsewhere: first, as lost work is
    // (one placed there as lost work and revoked went to the back of the pool, and waited there in the soak).
    const revoked = this.store.tx(() => revokePlacedOn(this.store, agentId, this.clock()));
    for (const r of revoked) this.onLostRequeued(r.id);
    for (const jobId of new Set(revoked.map((r) => r.jobId))) this.onChange(jobId);
    return this.loseAttempts(() => this.store.attempts.runningForAgent(agentId), reason, { agentId });
  }

  /** One attempt whose agent is alive but no longer working on it (it lost its upload, the coordinator restarted). */
  loseAttempt(attemptId: string, reason: string): number {
    return this.loseAttempts(() => {
      const a = this.store.attempts.get(attemptId);
      return a && a.state === "running" ? [a] : [];
    }, reason, { attemptId });
  }

  private loseAttempts(select: () => AttemptRow[], reason: string, logFields: Record<string, string>): number {
    const jobs = new Set<string>();
    const requeued: string[] = [];
    const lost = this.store.tx(() => {
      const now = this.clock();
      const running = select();
      for (const a of running) {
        this.store.attempts.finish(a.id, "lost", now, reason);
        const chunk = this.store.chunks.get(a.chunkId);
        if (chunk && settleCopy(this.store, chunk, a.id) !== "none") continue;
        if (chunk && chunk.state === "running" && chunk.currentAttemptId === a.id) {
          this.store.chunks.transition(chunk.id, "pending", now, { currentAttemptId: null, dispatchId: null });
          jobs.add(a.jobId);
          requeued.push(chunk.id);
        }
      }
      return running.length;
    });
    if (lost > 0) this.log.warn({ ...logFields, lost, reason }, "attempts lost, chunks requeued");
    for (const c of requeued) this.onLostRequeued(c);
    for (const j of jobs) this.onChange(j);
    return lost;
  }
}
