import type { Transitions } from "./state-machine.ts";

export type JobState = "queued" | "running" | "paused" | "assembling" | "done" | "failed" | "cancelled";
export const JOB_TRANSITIONS: Transitions<JobState> = {
  queued: ["running", "paused", "cancelled"],
  running: ["paused", "assembling", "done", "failed", "cancelled"],
  paused: ["running", "cancelled"],
  assembling: ["done", "failed", "cancelled"],
  done: [],
  failed: [],
  cancelled: [],
};
export const TERMINAL_JOB_STATES: readonly JobState[] = ["done", "failed", "cancelled"];

/**
 * pending: not yet published; queued: a work message is in JetStream; running: claimed by an attempt
 * (from pending when a claim for the next chunk is answered with it: no message is published for it).
 */
export type ChunkState = "pending" | "queued" | "running" | "done" | "failed" | "cancelled";
export const CHUNK_TRANSITIONS: Transitions<ChunkState> = {
  pending: ["queued", "running", "cancelled"],
  queued: ["running", "pending", "cancelled"],
  running: ["done", "queued", "pending", "failed", "cancelled"],
  done: [],
  failed: [],
  cancelled: [],
};

export type AttemptState = "running" | "committed" | "failed" | "lost" | "superseded" | "cancelled" | "handed-back";
export const ATTEMPT_TRANSITIONS: Transitions<AttemptState> = {
  running: ["committed", "failed", "lost", "superseded", "cancelled", "handed-back"],
  committed: [],
  failed: [],
  lost: [],
  superseded: [],
  cancelled: [],
  "handed-back": [],
};

export type AgentState = "discovered" | "pending" | "online" | "offline" | "removed";
export const AGENT_TRANSITIONS: Transitions<AgentState> = {
  discovered: ["pending", "online", "removed"],
  pending: ["online", "removed"],
  online: ["offline", "removed", "online"],
  offline: ["online", "removed"],
  removed: [],
};
