import type { AgentInfo, JobNeeds } from "./scheduling-types.ts";
import { unmetNeed } from "../../shared/steps/step-needs.ts";
import { formatGiB as gib } from "../../shared/job-spec/byte-size.ts";

/** The memory a model runs in on this agent: its largest GPU's, or RAM on an agent without a GPU. */
export function deviceMemoryBytes(agent: AgentInfo): number {
  return agent.vramBytes > 0 ? agent.vramBytes : agent.ramBytes;
}

/**
 * Hard rules: why this agent may not run this job's chunks, or null when it
 * may. Each frame step's kind, version, features and device memory (a
 * ComfyUI step's minVram against its devices) must be offered (step-needs.ts);
 * tags must all be present; `minVramBytes` needs a GPU that large; the
 * model's memory need must fit the card (RAM for an agent without a GPU), so
 * a 14 GiB model never goes to an 8 GiB card; a blocklisted agent is out.
 */
export function ineligibility(agent: AgentInfo, job: JobNeeds): string | null {
  for (const need of job.steps) {
    const why = unmetNeed(need, agent.kinds);
    if (why !== null) return `has ${why} (step ${need.stepId})`;
  }
  const missing = job.tags.filter((t) => !agent.tags.includes(t));
  if (missing.length > 0) return `lacks tag${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`;
  if (job.minVramBytes > 0 && agent.vramBytes < job.minVramBytes) {
    return agent.vramBytes === 0 ? `has no GPU (job needs ${gib(job.minVramBytes)})` : `has ${gib(agent.vramBytes)} VRAM, job needs ${gib(job.minVramBytes)}`;
  }
  if (job.memoryBytes !== null && job.memoryBytes > deviceMemoryBytes(agent)) {
    const what = agent.vramBytes > 0 ? "VRAM" : "RAM";
    return `model needs ${gib(job.memoryBytes)}, agent has ${gib(deviceMemoryBytes(agent))} ${what}`;
  }
  if (job.blockedAgents.includes(agent.id)) return "is blocklisted for this job";
  return null;
}

/**
 * Memory left on the agent's device after the other models it holds
 * (their needs from `needOf`; unknown needs count as 0).
 */
export function freeMemoryBytes(agent: AgentInfo, job: JobNeeds, needOf: (sha256: string) => number | null): number {
  let used = 0;
  for (const sha of agent.loadedModels) if (sha !== job.modelSha256) used += needOf(sha) ?? 0;
  return deviceMemoryBytes(agent) - used;
}

/**
 * Soft rules for choosing among eligible agents, as extra seconds added to the
 * agent's estimated finish: a model load when the agent does not hold the
 * model, and another when the model does not fit next to what it holds (it
 * has to unload something first), plus the transfer when the model is in the
 * coordinator's store and not in the agent's cache (size / fetchBytesPerSecond).
 */
export function placementPenaltySeconds(
  agent: AgentInfo,
  job: JobNeeds,
  needOf: (sha256: string) => number | null,
  modelLoadSeconds: number,
  fetchBytesPerSecond = Infinity,
): number {
  if (agent.loadedModels.includes(job.modelSha256)) return 0;
  const fits = job.memoryBytes === null || job.memoryBytes <= freeMemoryBytes(agent, job, needOf);
  const load = fits ? modelLoadSeconds : 2 * modelLoadSeconds;
  return load + bytesToFetch(agent, job) / fetchBytesPerSecond;
}

/** Bytes the agent must fetch from the store before it can run the job: what of the job's store assets its heartbeat does not list. */
export function bytesToFetch(agent: AgentInfo, job: JobNeeds): number {
  const cached = new Set(agent.cachedAssets ?? []);
  if (job.fetchAssets !== undefined) return job.fetchAssets.reduce((n, a) => (cached.has(a.sha256) ? n : n + a.size), 0);
  return (job.modelFetchBytes ?? 0) > 0 && !cached.has(job.modelSha256) ? (job.modelFetchBytes ?? 0) : 0;
}
