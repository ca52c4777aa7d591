import type { Store } from "../store/store.ts";
import type { ChunkRow } from "../store/chunks-table.ts";
import type { AttemptToCancel } from "../nats/agent-control.ts";
import { newId } from "../../shared/ids.ts";

/**
 * The store rules for speculative copies, called inside the claim, commit and
 * failure transactions. A running chunk may have a second live attempt only
 * when the dispatcher published a copy for it (spec_dispatch_id), only on the
 * agent the copy was placed on, only once, and never on the agent that runs
 * the first attempt. Whichever attempt commits first wins; the other is
 * superseded (and its agent told to stop).
 */

export type CopyClaim = { attemptId: string } | { skip: string };

export function isCopyDispatch(chunk: ChunkRow, dispatchId: string): boolean {
  return chunk.state === "running" && chunk.specDispatchId !== null && chunk.specDispatchId === dispatchId;
}

/** A claim of the chunk's speculative copy: a second running attempt. */
export function claimCopy(store: Store, chunk: ChunkRow, agentId: string, now: number): CopyClaim {
  if (chunk.specAttemptId !== null) return { skip: "the copy was claimed already" };
  if (chunk.specAgentId !== agentId) return { skip: "the copy was placed on another agent" };
  const first = chunk.currentAttemptId ? store.attempts.get(chunk.currentAttemptId) : undefined;
  if (first?.agentId === agentId) return { skip: "this agent runs the chunk already" };
  const attemptId = newId("att", now);
  store.attempts.insert({ id: attemptId, chunkId: chunk.id, jobId: chunk.jobId, agentId, createdAt: now });
  store.chunks.setAttempts(chunk.id, { specAttemptId: attemptId });
  return { attemptId };
}

/** At commit: every other live attempt of the chunk is superseded. Returns them, for their agents to be told. */
export function supersedeOthers(store: Store, chunk: ChunkRow, winnerAttemptId: string, now: number): AttemptToCancel[] {
  const out: AttemptToCancel[] = [];
  for (const id of [chunk.currentAttemptId, chunk.specAttemptId]) {
    if (!id || id === winnerAttemptId) continue;
    const a = store.attempts.get(id);
    if (a?.state !== "running") continue;
    store.attempts.finish(id, "superseded", now, `attempt ${winnerAttemptId} committed first`);
    out.push({ agentId: a.agentId, attemptId: id, reason: "superseded: the other copy of this chunk committed first" });
  }
  return out;
}

/**
 * One attempt of a running chunk ended without committing (failed, handed
 * back, lost). When it was the copy, the copy is dropped and the first attempt
 * goes on; when it was the first attempt and a copy runs, the copy becomes the
 * chunk's attempt. Either way the chunk stays running ("handled"); "none"
 * means there was no copy and the usual retry rules apply.
 */
export function settleCopy(store: Store, chunk: ChunkRow, attemptId: string): "dropped" | "promoted" | "none" {
  if (chunk.state !== "running") return "none";
  if (chunk.specAttemptId === attemptId) {
    store.chunks.setAttempts(chunk.id, { specDispatchId: null, specAgentId: null, specAttemptId: null });
    return "dropped";
  }
  if (chunk.currentAttemptId === attemptId && chunk.specAttemptId !== null && store.attempts.get(chunk.specAttemptId)?.state === "running") {
    store.chunks.setAttempts(chunk.id, { currentAttemptId: chunk.specAttemptId, specDispatchId: null, specAgentId: null, specAttemptId: null });
    return "promoted";
  }
  return "none";
}

/** The chunk's live attempts, for a cancellation. */
export function liveAttempts(store: Store, chunk: ChunkRow): Array<{ attemptId: string; agentId: string }> {
  const out: Array<{ attemptId: string; agentId: string }> = [];
  for (const id of [chunk.currentAttemptId, chunk.specAttemptId]) {
    const a = id ? store.attempts.get(id) : undefined;
    if (a?.state === "running") out.push({ attemptId: a.id, agentId: a.agentId });
  }
  return out;
}

/** An agent went offline: chunks waiting on its own subject go back to pending, to be placed elsewhere. Returns them. */
export function revokePlacedOn(store: Store, agentId: string, now: number): Array<{ id: string; jobId: string }> {
  const rows = store.chunks.placedOn(agentId);
  for (const r of rows) store.chunks.transition(r.id, "pending", now, { dispatchId: null });
  return rows;
}
