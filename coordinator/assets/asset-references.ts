import { JOB_TRANSITIONS, TERMINAL_JOB_STATES, type JobState } from "../../shared/lifecycle/states.ts";
import { stepHashes } from "../../shared/provenance/provenance-manifest.ts";
import { storedSteps } from "../jobs/job-specs.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { Store } from "../store/store.ts";
import { stepContentAssets } from "../../shared/steps/step-content-assets.ts";

/**
 * Which blobs of the coordinator's asset store something still needs, and
 * why: every model in the catalogue, every asset of a job that can still run
 * a chunk (queued, running, paused, assembling), and every asset of a job
 * that ended less than `retentionMs` ago (so `verify --rerender` and a
 * resubmit of last night's shot find the scene still there). A job's assets
 * are its first step's hash, every `<name>Sha256` of its steps (models,
 * scenes, workflows), every file of an uploaded Blender scene tree and every
 * input image of a comfyui step.
 * Keeping too much is harmless; this errs that way.
 */

export type AssetUse = "model" | "active-job" | "retained-job";

/** Every state but the terminal ones (queued, running, paused, assembling, and any state added later). */
const ACTIVE_JOB_STATES = (Object.keys(JOB_TRANSITIONS) as JobState[]).filter((s) => !TERMINAL_JOB_STATES.includes(s));

/** `retentionMs` null: ended jobs are not counted at all (what `models rm` asks). */
export function assetReferences(store: Pick<Store, "models" | "jobs">, nowMs: number, retentionMs: number | null): Map<string, AssetUse> {
  const uses = new Map<string, AssetUse>();
  for (const m of store.models.list()) uses.set(m.sha256, "model");
  for (const job of store.jobs.listInStates(ACTIVE_JOB_STATES)) {
    for (const sha of jobAssetHashes(job)) if (!uses.has(sha)) uses.set(sha, "active-job");
  }
  if (retentionMs === null) return uses;
  const since = nowMs - retentionMs;
  for (const job of store.jobs.listInStates(TERMINAL_JOB_STATES)) {
    // A job that ended without a recorded end time is kept: nothing says its retention is over.
    if (job.finishedAt !== null && job.finishedAt < since) continue;
    for (const sha of jobAssetHashes(job)) if (!uses.has(sha)) uses.set(sha, "retained-job");
  }
  return uses;
}

/** Every content hash a job's recorded steps name. */
export function jobAssetHashes(job: Pick<JobRow, "stepsJson" | "modelName" | "modelSha256">): Set<string> {
  const out = new Set<string>([job.modelSha256]);
  let steps;
  try {
    steps = storedSteps(job);
  } catch {
    // A row whose steps no longer parse: its first step's hash is all that is known.
    return out;
  }
  for (const s of steps) {
    for (const sha of Object.values(stepHashes(s as unknown as Record<string, unknown>))) out.add(sha);
    for (const a of stepContentAssets(s)) out.add(a.sha256);
  }
  return out;
}
