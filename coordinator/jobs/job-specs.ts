import type { JobSpec } from "../../shared/job-spec/index.ts";
import { WorkStepSchema, type WorkStep } from "../../shared/steps/work-step.ts";
import type { JobRow } from "../store/jobs-table.ts";

/**
 * Compiled specs and work steps by job id; the stored JSON is what submit
 * compiled, so parsing it back needs no validation beyond the step schema.
 */
export class JobSpecs {
  private readonly cache = new Map<string, JobSpec>();
  private readonly stepCache = new Map<string, WorkStep[]>();

  of(job: Pick<JobRow, "id" | "specJson">): JobSpec {
    let spec = this.cache.get(job.id);
    if (!spec) {
      spec = JSON.parse(job.specJson) as JobSpec;
      this.cache.set(job.id, spec);
    }
    return spec;
  }

  /** The job's frame steps as agents receive them; a row older than step kinds was one model step. */
  steps(job: JobRow): WorkStep[] {
    let steps = this.stepCache.get(job.id);
    if (!steps) {
      steps = storedSteps(job);
      this.stepCache.set(job.id, steps);
    }
    return steps;
  }
}

export function storedSteps(job: Pick<JobRow, "stepsJson" | "modelName" | "modelSha256">): WorkStep[] {
  const parsed = WorkStepSchema.array().parse(JSON.parse(job.stepsJson || "[]"));
  if (parsed.length > 0) return parsed;
  return [{ id: "grade", kind: "model", model: job.modelName, modelSha256: job.modelSha256, window: null }];
}
