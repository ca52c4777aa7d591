import { AgentLoad } from "../../coordinator/scheduling/agent-load.ts";
import { DEFAULT_SCHEDULING_POLICY, type SchedulingPolicy } from "../../coordinator/scheduling/scheduling-policy.ts";
import type { AgentInfo, JobNeeds, RunningWork, UnstartedChunk, WaitingWork } from "../../coordinator/scheduling/scheduling-types.ts";
import { SpeedBook } from "../../coordinator/scheduling/speed-book.ts";

export const GiB = 2 ** 30;
export const MODEL = "aa".repeat(32);
export const OTHER_MODEL = "bb".repeat(32);
export const NOW = 1_000_000;

export function agent(id: string, o: Partial<AgentInfo> = {}): AgentInfo {
  return { id, name: id, tags: [], vramBytes: 24 * GiB, ramBytes: 64 * GiB, accepting: true, loadedModels: [], kinds: [{ kind: "model", version: "1.30.0", features: [] }], ...o };
}

export function job(jobId: string, o: Partial<JobNeeds> = {}): JobNeeds {
  return { jobId, priority: 0, modelSha256: MODEL, memoryBytes: null, tags: [], minVramBytes: 0, blockedAgents: [], overlap: 0, steps: [{ stepId: "grade", kind: "model", version: null, features: [] }], ...o };
}

/** Unstarted chunks of `size` frames covering [start, start + count * size). */
export function chunks(jobId: string, count: number, size: number, o: Partial<UnstartedChunk> = {}, start = 0): UnstartedChunk[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${jobId}.c${i}`,
    jobId,
    idx: i,
    frameStart: start + i * size,
    frameEnd: start + (i + 1) * size - 1,
    contextStart: start + i * size,
    contextEnd: start + (i + 1) * size - 1,
    state: "pending" as const,
    placedAgentId: null,
    tried: false,
    ...o,
  }));
}

/** A speed book where each agent ran MODEL at the given frames per second. */
export function speeds(fps: Record<string, number>, model = MODEL): SpeedBook {
  const book = new SpeedBook(1);
  for (const [agentId, f] of Object.entries(fps)) book.add({ agentId, modelSha256: model, frames: f * 10, busySeconds: 10, wallSeconds: 10.5 });
  return book;
}

export function policy(o: Partial<SchedulingPolicy> = {}): SchedulingPolicy {
  return { ...DEFAULT_SCHEDULING_POLICY, chunkOverheadSeconds: 0, ...o };
}

export function loadOf(
  agents: AgentInfo[],
  book: SpeedBook,
  o: { running?: RunningWork[]; waiting?: WaitingWork[]; policy?: SchedulingPolicy; model?: string } = {},
): AgentLoad {
  return new AgentLoad(NOW, book, () => o.model ?? MODEL, o.policy ?? policy(), agents, o.running ?? [], o.waiting ?? []);
}

export function running(agentId: string, chunkId: string, frames: number, startedAtMs: number, o: Partial<RunningWork> = {}): RunningWork {
  return { attemptId: `att-${chunkId}-${agentId}`, chunkId, jobId: "j", agentId, frames, startedAtMs, framesDone: null, elapsedMs: null, reportedAtMs: null, speculative: false, hasCopy: false, ...o };
}
