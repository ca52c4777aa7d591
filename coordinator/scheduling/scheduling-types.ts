import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import type { StepNeed } from "../../shared/steps/step-needs.ts";
/**
 * What the pure scheduler sees of the farm. Built by farm-snapshot.ts from the
 * store and the latest heartbeats; tests build them by hand.
 */

export interface AgentInfo {
  id: string;
  name: string;
  tags: readonly string[];
  /** The largest GPU's memory; 0 for an agent without a GPU (it runs models in RAM). */
  vramBytes: number;
  ramBytes: number;
  /** False while the agent drains or pauses for someone else's GPU use. */
  accepting: boolean;
  /** sha256 of the models the agent holds loaded (from its heartbeat). */
  loadedModels: readonly string[];
  /** What it can run, per step kind (advertised when it joined). */
  kinds: readonly KindCapability[];
  /** sha256 of the assets in the agent's cache (from its heartbeat); none: unknown, counted as not cached. */
  cachedAssets?: readonly string[];
}

/** What placement needs to know about a job. */
export interface JobNeeds {
  jobId: string;
  priority: number;
  modelSha256: string;
  /** The model's memory need (manifest memoryBytes); null when unknown. */
  memoryBytes: number | null;
  /** Bytes an agent fetches from the model store when it lacks the model; null/absent when the model is not in the store. */
  modelFetchBytes?: number | null;
  /** Every store asset the chain uses (each step's store model, a scene's uploaded files); when set, it replaces modelFetchBytes. */
  fetchAssets?: ReadonlyArray<{ sha256: string; size: number }>;
  /** Agents must carry all of these tags. */
  tags: readonly string[];
  /** Agents must have a GPU with at least this much memory; 0: any agent. */
  minVramBytes: number;
  /** Agents blocklisted for this job. */
  blockedAgents: readonly string[];
  /** What each frame step needs of an agent (kind, version, program, node classes). */
  steps: readonly StepNeed[];
  /** Context frames read on each side of a chunk (temporal steps); used when a chunk is cut. */
  overlap: number;
}

/** A chunk that waits to be published. */
export interface PendingChunk {
  id: string;
  jobId: string;
  frames: number;
}

/** A chunk that has not started: pending, or queued in the pool or on one agent's subject. */
export interface UnstartedChunk {
  id: string;
  jobId: string;
  idx: number;
  frameStart: number;
  frameEnd: number;
  contextStart: number;
  contextEnd: number;
  state: "pending" | "queued";
  /** The agent it is queued for; null in the pool or while pending. */
  placedAgentId: string | null;
  /** An attempt of it was made before (its agent lost, a failure): lost work, which the end-of-job cut hands out first. */
  tried: boolean;
}

/** A running attempt. */
export interface RunningWork {
  attemptId: string;
  chunkId: string;
  jobId: string;
  agentId: string;
  frames: number;
  startedAtMs: number;
  /** Frames uploaded so far, from the agent's heartbeat; null when not reported. */
  framesDone: number | null;
  /** Milliseconds the agent had been on the attempt when it reported framesDone (its own clock); null when not reported. */
  elapsedMs: number | null;
  /** When that report was sent (the agent's clock, ms since the epoch); null when not reported. */
  reportedAtMs: number | null;
  /** This attempt is a speculative copy. */
  speculative: boolean;
  /** The chunk already has a speculative copy dispatched or running. */
  hasCopy: boolean;
}

/** A chunk queued on one agent's subject, not yet claimed. */
export interface WaitingWork {
  chunkId: string;
  jobId: string;
  agentId: string;
  frames: number;
}

/** Where a chunk goes: one agent's subject, or the shared pool (agentId null). */
export interface Placement {
  chunkId: string;
  jobId: string;
  agentId: string | null;
}

/** A job that cannot be placed now, and why (shown in the job's message). */
export interface Hold {
  jobId: string;
  reason: string;
}

/** One piece of a cut chunk and the agent it goes to. */
export interface Piece {
  sourceChunkId: string;
  frameStart: number;
  frameEnd: number;
  contextStart: number;
  contextEnd: number;
  agentId: string;
}

/** A speculative copy of a running chunk on an idle agent. */
export interface Speculation {
  chunkId: string;
  jobId: string;
  agentId: string;
  /** Estimated ms by which the copy brings the chunk's end forward. */
  gainMs: number;
}
