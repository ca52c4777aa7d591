import { newId } from "../../shared/ids.ts";
import { BadInputError } from "../../shared/errors.ts";
import type { Clock } from "../../shared/clock.ts";
import { checkAgainstInput, checkModelsAvailable, validateJobSpec, type JobSpec } from "../../shared/job-spec/index.ts";
import { createFrameSource } from "../../shared/media/frame-source.ts";
import { listModels, resolveModel } from "../../shared/model-manifest/model-registry.ts";
import type { Store } from "../store/store.ts";
import { workInput } from "./describe-work.ts";
import { frameFileName, resolveJobOutputDir, videoPathFor } from "./job-paths.ts";
import { planJobChunks } from "./plan-job-chunks.ts";
import type { JobRow } from "../store/jobs-table.ts";

export interface SubmitDeps {
  store: Store;
  outputRoot: string;
  modelsDir: string;
  clock: Clock;
}

export interface Submitted {
  jobId: string;
  chunks: number;
  frames: number;
  outputDir: string;
}

/**
 * Validates a raw job spec against everything the farm knows (schema, models,
 * input length, output root) and records the job and its chunks in one
 * transaction. Any problem is a BadInputError naming the field, and nothing is
 * written, neither in the store nor on disk.
 */
export async function submitJob(deps: SubmitDeps, raw: unknown, baseDir: string): Promise<Submitted> {
  const spec: JobSpec = validateJobSpec(raw);
  const frameSteps = spec.steps.filter((s) => s.kind !== "assemble");
  if (frameSteps.length !== 1) {
    throw new BadInputError(`steps: this version runs exactly one model step per job (got ${frameSteps.length})`, { field: "steps" });
  }
  const step = frameSteps[0] as (typeof frameSteps)[number];
  const listings = await listModels(deps.modelsDir);
  checkModelsAvailable(spec, listings.filter((l) => l.ok).map((l) => (l.ok ? l.model.manifest.name : "")));
  const model = await resolveModel(deps.modelsDir, step.model, { verify: true });
  if (step.modelSha256 && step.modelSha256 !== model.manifest.sha256) {
    throw new BadInputError(
      `steps[0].modelSha256: model '${step.model}' has sha256 ${model.manifest.sha256}, the job asks for ${step.modelSha256}`,
      { field: "steps[0].modelSha256" },
    );
  }

  const now = deps.clock();
  const jobId = newId("job", now);
  const source = createFrameSource(workInput(spec, baseDir, spec.seed));
  let inputFrames: number;
  try {
    inputFrames = await source.frameCount();
  } finally {
    await source.close();
  }
  const range = checkAgainstInput(spec, inputFrames);
  const outputDir = resolveJobOutputDir(deps.outputRoot, jobId, spec);
  // Render the other templates once now, so a bad one fails at submit, not at the first commit.
  frameFileName(spec, jobId, range.start);
  const plan = await planJobChunks(spec, range, baseDir);

  const job: Omit<JobRow, "videoPath" | "message" | "startedAt" | "finishedAt" | "pauseReason"> = {
    id: jobId,
    name: spec.name,
    state: "queued",
    priority: spec.priority,
    specJson: JSON.stringify(spec),
    baseDir,
    outputDir,
    frameStart: range.start,
    frameEnd: range.end,
    fps: spec.fps,
    seed: spec.seed,
    modelName: model.manifest.name,
    modelSha256: model.manifest.sha256,
    createdAt: now,
  };
  videoPathFor({ ...job, videoPath: null, message: null, startedAt: null, finishedAt: null, pauseReason: null }, spec);
  deps.store.tx(() => {
    deps.store.jobs.insert(job);
    for (const c of plan) {
      deps.store.chunks.insert({
        id: `${jobId}.c${String(c.index).padStart(5, "0")}`,
        jobId,
        idx: c.index,
        frameStart: c.frameStart,
        frameEnd: c.frameEnd,
        contextStart: c.contextStart,
        contextEnd: c.contextEnd,
        updatedAt: now,
      });
    }
  });
  return { jobId, chunks: plan.length, frames: range.end - range.start + 1, outputDir };
}
