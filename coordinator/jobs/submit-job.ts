import { newId } from "../../shared/ids.ts";
import { BadInputError } from "../../shared/errors.ts";
import type { Clock } from "../../shared/clock.ts";
// From the modules themselves, not the folder's index: through it the compiled coordinator loaded the YAML parser at start-up (parse-job-file.ts).
import { validateJobSpec } from "../../shared/job-spec/validate-job-spec.ts";
import { checkAgainstInput } from "../../shared/job-spec/check-against-input.ts";
import type { FrameRange, JobSpec } from "../../shared/job-spec/index.ts";
import { badInputFromIssues } from "../../shared/job-spec/format-issues.ts";
import type { SpecIssue } from "../../shared/job-spec/spec-issue.ts";
import { createFrameSource } from "../../shared/media/frame-source.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { commandStepSha256, type WorkStep } from "../../shared/steps/work-step.ts";
import { resolveSteps } from "./resolve-steps.ts";
import type { Store } from "../store/store.ts";
import { workInput } from "./describe-work.ts";
import { frameFileName, resolveJobOutputDir, videoPathFor } from "./job-paths.ts";
import { planJobShots } from "./plan-job-chunks.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { AssetStore } from "../assets/asset-store.ts";
import type { SceneFile } from "../../shared/assets/scene-tree.ts";

export interface SubmitDeps {
  store: Store;
  outputRoot: string;
  modelsDir: string;
  /** The studio's shared root as this coordinator mounts it (Blender scenes); absent: none. */
  sharedRoot?: string | null;
  /** The coordinator's asset store, where a submit's scene files were uploaded; absent: scene trees are refused. */
  assets?: Pick<AssetStore, "claim">;
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
export async function submitJob(deps: SubmitDeps, raw: unknown, baseDir: string, sceneTree: readonly SceneFile[] = []): Promise<Submitted> {
  const spec: JobSpec = validateJobSpec(raw);
  // Every problem found against the farm (models, scenes, workflows, the input's length) is reported together.
  const issues: SpecIssue[] = [];
  const steps = await resolveSteps(
    spec,
    { modelsDir: deps.modelsDir, sharedRoot: deps.sharedRoot ?? null, storeModels: deps.store.models, sceneTree, ...(deps.assets ? { assets: deps.assets } : {}) },
    issues,
  );
  const range = await frameRange(spec, baseDir, issues);
  if (issues.length > 0 || range === null) throw badInputFromIssues(issues);
  const first = steps[0] as WorkStep;

  const now = deps.clock();
  const jobId = newId("job", now);
  const outputDir = resolveJobOutputDir(deps.outputRoot, jobId, spec);
  // Render the other templates once now, so a bad one fails at submit, not at the first commit.
  frameFileName(spec, jobId, range.start);
  const { chunks: plan, shotStarts } = await planJobShots(spec, range, baseDir);

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
    modelName: first.kind === "model" ? first.model : `${first.kind}:${first.id}`,
    modelSha256: workKey(first),
    stepsJson: JSON.stringify(steps),
    recipeSha256: sha256Bytes(new TextEncoder().encode(JSON.stringify(steps))),
    shotsJson: JSON.stringify(shotStarts),
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

/** The range to render, checked against the input's real length; null with an issue when it does not fit. */
async function frameRange(spec: JobSpec, baseDir: string, issues: SpecIssue[]): Promise<FrameRange | null> {
  if (spec.input === null) return spec.frames;
  const source = createFrameSource(workInput(spec.input, baseDir, spec.seed));
  try {
    return checkAgainstInput(spec, await source.frameCount());
  } catch (err) {
    if (!(err instanceof BadInputError)) throw err;
    issues.push({ path: [], message: err.message });
    return null;
  } finally {
    await source.close();
  }
}

/** What the scheduler keys speed and "already loaded" on: the first step's reusable part. */
function workKey(step: WorkStep): string {
  switch (step.kind) {
    case "model":
      return step.modelSha256;
    case "blender":
      return step.sceneSha256;
    case "comfyui":
      return step.workflowSha256;
    case "command":
      return commandStepSha256(step);
  }
}
