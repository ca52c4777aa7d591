import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { newId } from "../../shared/ids.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import type { WorkPublisher } from "../dispatch/dispatcher.ts";
import { withdrawDispatch } from "../dispatch/withdraw-dispatch.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { Store } from "../store/store.ts";
import type { EndGamePlan } from "./end-game.ts";
import { takeSnapshot, type SnapshotDeps } from "./farm-snapshot.ts";
import type { WindowAssessment } from "./job-window.ts";
import type { LedgerSpeeds } from "./ledger-speeds.ts";
import { planDispatch, type DispatchPlan, type FarmSnapshot } from "./plan-dispatch.ts";

export interface DispatchPassDeps extends SnapshotDeps {
  publisher: WorkPublisher;
  speeds: LedgerSpeeds;
  clock: Clock;
  log: Logger;
  /** How many chunks may start given how many wait queued (the power budget); none: no limit. */
  startLimit?: (queued: number, wanted: number) => number;
  /** Last note written to each job's message by the scheduler (kept between passes). */
  notes: Map<string, string>;
  published: Map<string, { dispatchId: string; seq: number }>;
  prepare?: () => Promise<void>;
  /** A chunk of `jobId` was published on `agentId`'s own subject. */
  onPlaced?: (agentId: string, jobId: string) => void;
  onJobHeld?: (jobId: string, reason: string) => void;
  /** Pending chunks read of each pool job beyond the pool's room, for picks (takeSnapshot's poolReadAtLeast; default 0). */
  pickRead?: number;
  /** The pass's snapshot and plan, once its store changes are made (the picks of claims for the next chunk start from it). */
  onPlanned?: (snapshot: FarmSnapshot, plan: DispatchPlan) => void;
}

interface Outgoing {
  msg: WorkMessage;
  /** Track the stream sequence (chunk messages; not speculative copies). */
  track: boolean;
  agentId: string | undefined;
  /** Undoes the store change when the publish fails (the chunk goes back to pending). */
  undo: () => void;
}

/**
 * The thin edge of the scheduler: a snapshot of the store and the heartbeats,
 * the pure plan (coordinator/scheduling/plan-dispatch.ts), then every store
 * change in one transaction (cuts, placements, speculative copies; nothing can
 * interleave, so the snapshot is still true), then the publishes, pipelined
 * (publishAll). A failed publish puts its chunk back to pending; the next
 * pass tries again.
 */
export async function runDispatchPass(d: DispatchPassDeps): Promise<void> {
  await d.prepare?.();
  const now = d.clock();
  const speeds = d.speeds.refresh(d.store);
  const { snapshot, windows, jobRows, queuedIds } = takeSnapshot(d, speeds, now, d.pickRead ?? 0);
  for (const id of d.published.keys()) if (!queuedIds.has(id)) d.published.delete(id);
  if (d.startLimit) {
    const queued = snapshot.poolQueued + snapshot.waiting.length;
    const wanted = Math.max(0, Math.max(1, snapshot.agents.length) * d.policy.queueDepthPerAgent - snapshot.poolQueued) + snapshot.agents.length * d.policy.queueDepthPerAgent;
    snapshot.limit = Math.max(0, d.startLimit(queued, wanted));
  }
  const plan = planDispatch(snapshot, speeds, d.scheduling);
  writeNotes(d, plan, windows, jobRows);
  const taken = plan.endGames.flatMap((e) => e.revoke).map((id) => d.published.get(id)).filter((p): p is { dispatchId: string; seq: number } => p !== undefined);
  const outgoing = d.store.tx(() => apply(d.store, plan, now));
  d.onPlanned?.(snapshot, plan);
  for (const e of plan.endGames) for (const id of e.revoke) d.published.delete(id);
  if (d.publisher.retract) {
    for (const t of taken) d.publisher.retract(t.seq).catch((err: unknown) => d.log.warn({ err, seq: t.seq }, "retracting a taken-back message failed"));
  }
  for (const e of plan.endGames) {
    const pieces = e.pieces.map((p) => `${p.frameStart}-${p.frameEnd}@${p.agentId}`).join(" ");
    d.log.info({ jobId: e.jobId, pieces, gainMs: Math.round(e.currentFinishMs - e.finishMs) }, "end of job re-cut");
  }
  for (const s of plan.speculations) d.log.info({ chunkId: s.chunkId, agentId: s.agentId, gainMs: Math.round(s.gainMs) }, "speculative copy dispatched");
  if (d.log.isLevelEnabled("debug")) for (const p of plan.placements) d.log.debug({ chunkId: p.chunkId, agentId: p.agentId }, "chunk placed");
  await publishAll(d, outgoing);
}

/**
 * Sends every message of the pass without waiting for each ack in turn (one
 * connection keeps them in order: they go out in one write and the stream
 * stores them in that order), then waits for every ack. The delivery rule is
 * unchanged: a chunk marked queued can be claimed only through its message,
 * so it runs only once the stream holds it, and a publish that fails (no
 * ack) puts its chunk back to pending (all failures in one transaction); the
 * next pass tries again. The pass ends only when every publish has settled,
 * so no other pass plans around a publish in flight.
 */
async function publishAll(d: DispatchPassDeps, outgoing: readonly Outgoing[]): Promise<void> {
  const results = await Promise.allSettled(outgoing.map((o) => d.publisher.publish(o.msg, o.agentId)));
  const failed: Outgoing[] = [];
  for (const [i, r] of results.entries()) {
    const o = outgoing[i] as Outgoing;
    if (r.status === "rejected") {
      d.log.warn({ err: r.reason as unknown, chunkId: o.msg.chunkId }, "publish failed; chunk back to pending");
      failed.push(o);
      continue;
    }
    if (o.track && typeof r.value === "number") d.published.set(o.msg.chunkId, { dispatchId: o.msg.dispatchId, seq: r.value });
    if (o.agentId !== undefined) d.onPlaced?.(o.agentId, o.msg.jobId);
  }
  if (failed.length > 0) {
    d.store.tx(() => {
      for (const o of failed) o.undo();
    });
  }
}

function apply(store: Store, plan: DispatchPlan, now: number): Outgoing[] {
  const out: Outgoing[] = [];
  const queue = (chunkId: string, jobId: string, agentId: string | null): void => {
    const dispatchId = newId("dsp", now);
    store.chunks.queuePending(chunkId, now, dispatchId, agentId); // planned from pending chunks of this run's snapshot
    out.push({
      msg: { chunkId, jobId, dispatchId },
      track: true,
      agentId: agentId ?? undefined,
      undo: () => void withdrawDispatch(store, chunkId, dispatchId, now),
    });
  };
  for (const e of plan.endGames) applyCut(store, e, now, queue);
  for (const p of plan.placements) queue(p.chunkId, p.jobId, p.agentId);
  for (const s of plan.speculations) {
    const c = store.chunks.get(s.chunkId);
    if (c?.state !== "running" || c.specDispatchId !== null) continue;
    const dispatchId = newId("dsp", now);
    store.chunks.setAttempts(c.id, { specDispatchId: dispatchId, specAgentId: s.agentId });
    out.push({
      msg: { chunkId: c.id, jobId: c.jobId, dispatchId, speculative: true },
      track: false,
      agentId: s.agentId,
      undo: () => void withdrawDispatch(store, c.id, dispatchId, now),
    });
  }
  return out;
}

/** Takes the job's unstarted chunks back, cuts them into the plan's pieces and queues each piece on its agent. */
function applyCut(store: Store, e: EndGamePlan, now: number, queue: (chunkId: string, jobId: string, agentId: string) => void): void {
  for (const id of e.revoke) {
    const c = store.chunks.get(id);
    if (c?.state === "queued") store.chunks.transition(id, "pending", now, { dispatchId: null });
  }
  const sources = new Map<string, number>(); // source chunk -> its frameEnd before the cut
  for (const p of e.pieces) {
    if (sources.has(p.sourceChunkId)) continue;
    const source = store.chunks.get(p.sourceChunkId);
    if (!source || source.state !== "pending") throw new Error(`end-of-job cut: chunk ${p.sourceChunkId} is ${source?.state ?? "gone"}`);
    sources.set(source.id, source.frameEnd);
  }
  let idx = store.chunks.maxIdx(e.jobId);
  const seen = new Set<string>();
  for (const p of e.pieces) {
    let chunkId = p.sourceChunkId;
    if (!seen.has(p.sourceChunkId)) {
      seen.add(p.sourceChunkId);
      if (p.frameEnd !== sources.get(p.sourceChunkId)) store.chunks.shorten(p.sourceChunkId, p.frameEnd, p.contextEnd, now);
    } else {
      idx++;
      chunkId = `${e.jobId}.c${String(idx).padStart(5, "0")}`;
      while (store.chunks.get(chunkId)) chunkId += "x";
      store.chunks.insert({ id: chunkId, jobId: e.jobId, idx, frameStart: p.frameStart, frameEnd: p.frameEnd, contextStart: p.contextStart, contextEnd: p.contextEnd, updatedAt: now });
    }
    queue(chunkId, e.jobId, p.agentId);
  }
}

/**
 * The scheduler's notes in the job's message: held by the window, doneBy that
 * cannot be met, no agent that may run it. Written only when they change, and
 * a cleared note only replaces the scheduler's own earlier note.
 */
function writeNotes(d: DispatchPassDeps, plan: DispatchPlan, windows: Map<string, WindowAssessment>, jobRows: Map<string, JobRow>): void {
  const holds = new Map(plan.holds.map((h) => [h.jobId, h.reason]));
  for (const [jobId, job] of jobRows) {
    if (job.state === "paused") continue;
    const w = windows.get(jobId);
    const note = [w?.note, holds.get(jobId)].filter((x): x is string => !!x).join("; ");
    const last = d.notes.get(jobId) ?? "";
    if (note === last) continue;
    d.notes.set(jobId, note);
    if (note === "" && job.message !== last) continue;
    d.store.jobs.setMessage(jobId, note);
    if (w?.late && !last.includes("cannot be met")) d.log.warn({ jobId, etaMs: w.etaMs, deadlineMs: w.deadlineMs }, "job window: doneBy cannot be met");
    if (w?.held && last === "") d.log.info({ jobId, opensAtMs: w.opensAtMs }, "job held until its window opens");
    const held = holds.get(jobId);
    if (held !== undefined) {
      d.log.warn({ jobId, reason: held }, "job held: no agent may run it");
      d.onJobHeld?.(jobId, held);
    }
  }
  for (const jobId of d.notes.keys()) if (!jobRows.has(jobId)) d.notes.delete(jobId);
}
