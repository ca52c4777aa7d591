import { join } from "node:path";
import type { Clock } from "../../shared/clock.ts";
import { BadInputError } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import type { Store } from "../store/store.ts";
import type { AssetStore } from "../assets/asset-store.ts";
import { storedSteps } from "../jobs/job-specs.ts";

/** Where a job's re-rendered frames go: a hidden folder inside its own, which `nightshift verify` of the job folder skips. */
export const RERENDER_DIR = ".rerender";

export interface RerenderJob {
  jobId: string;
  /** The agents that made the original frames: the new job may not run on them. */
  avoidedAgents: string[];
}

/**
 * For `nightshift verify --rerender`: a new job that renders again some
 * committed frames of a finished job, with the same resolved steps (model,
 * scene, workflow hashes), seed, input and output pattern, one chunk per
 * frame, on any agent but the ones that made those frames. The original agents
 * are blocklisted for the new job from its first moment (the placement and
 * claim rules already keep a blocklisted agent off a job), so no extra rule
 * is needed. Refused (bad input) when the job is not done, a frame was not
 * committed, no other agent is enrolled to run it, or a file of its uploaded
 * scene tree or a comfyui input image has left the asset store (collected after the retention); the
 * files that are there are claimed, in the same synchronous call that writes
 * the new job's row, so the collector cannot take them in between.
 */
export function createRerenderJob(store: Store, jobId: string, frames: readonly number[], clock: Clock, assets?: Pick<AssetStore, "claim">): RerenderJob {
  const job = store.jobs.get(jobId);
  if (!job) throw new BadInputError(`no job '${jobId}'`, { field: "job" });
  if (job.state !== "done") throw new BadInputError(`job ${jobId} is ${job.state}: only a finished (done) job can be re-rendered`, { field: "job" });
  if (frames.length === 0) throw new BadInputError("no frames to re-render", { field: "frames" });
  const rows = new Map(store.frames.listByJob(jobId).map((r) => [r.frame, r]));
  const chunks = store.chunks.listByJob(jobId);
  const wanted = [...new Set(frames)].sort((a, b) => a - b);
  for (const f of wanted) if (!rows.has(f)) throw new BadInputError(`frame ${f} of job ${jobId} was not committed`, { field: "frames" });
  const avoidedAgents = [...new Set(wanted.map((f) => rows.get(f)!.agentId))].sort();
  const others = store.agents.list().filter((a) => a.state !== "removed" && !avoidedAgents.includes(a.id));
  if (others.length === 0) throw new BadInputError(`no agent other than the one(s) that made these frames (${avoidedAgents.join(", ")}) is enrolled`, { field: "agents" });
  if (assets !== undefined) {
    for (const step of storedSteps(job)) {
      if (step.kind === "blender") {
        const gone = (step.tree ?? []).find((f) => !assets.claim(f));
        if (gone) throw new BadInputError(`job ${jobId}'s scene file '${gone.path}' is no longer in the asset store (collected after assetRetentionHours); submit the scene again`, { field: "job" });
      }
      if (step.kind === "comfyui") {
        const gone = (step.images ?? []).find((i) => !assets.claim(i));
        if (gone) throw new BadInputError(`job ${jobId}'s input image '${gone.name}' (node ${gone.node}) is no longer in the asset store (collected after assetRetentionHours); submit the job again`, { field: "job" });
      }
    }
  }

  const now = clock();
  const id = newId("job", now);
  store.tx(() => {
    store.jobs.insert({
      id,
      name: `${job.name} (rerender)`,
      state: "queued",
      priority: job.priority,
      specJson: job.specJson,
      baseDir: job.baseDir,
      outputDir: join(job.outputDir, RERENDER_DIR, id),
      frameStart: wanted[0]!,
      frameEnd: wanted.at(-1)!,
      fps: job.fps,
      seed: job.seed,
      modelName: job.modelName,
      modelSha256: job.modelSha256,
      stepsJson: job.stepsJson,
      recipeSha256: job.recipeSha256,
      shotsJson: job.shotsJson,
      createdAt: now,
    });
    wanted.forEach((f, idx) => {
      // The original chunk's context (temporal steps read frames around f).
      const from = chunks.find((c) => c.frameStart <= f && f <= c.frameEnd);
      store.chunks.insert({ id: `${id}_c${idx}`, jobId: id, idx, frameStart: f, frameEnd: f, contextStart: from?.contextStart ?? f, contextEnd: from?.contextEnd ?? f, updatedAt: now });
    });
    for (const agentId of avoidedAgents) store.blocklist.recordFailure(id, agentId, "made the original frames of the job this one re-renders", true, now);
  });
  return { jobId: id, avoidedAgents };
}
