import { isAbsolute, resolve } from "node:path";
import type { JobSpec } from "../../shared/job-spec/index.ts";
import type { WorkInput } from "../../shared/protocol/messages.ts";
import type { WorkDescriber } from "../dispatch/claim-service.ts";
import type { JobSpecs } from "./job-specs.ts";

/** The input as an agent reads it: paths absolute (agents see the NAS at the same mount point). */
export function workInput(spec: JobSpec, baseDir: string, seed: number): WorkInput {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  switch (spec.input.type) {
    case "generated":
      return { type: "generated", width: spec.input.width, height: spec.input.height, frames: spec.input.frames, seed };
    case "image-sequence":
      return { type: "image-sequence", path: abs(spec.input.path) };
    case "video":
      return { type: "video", path: abs(spec.input.path) };
  }
}

export function workDescriber(specs: JobSpecs): WorkDescriber {
  return (job) => {
    const spec = specs.of(job);
    const step = spec.steps.find((s) => s.kind !== "assemble");
    return {
      input: workInput(spec, job.baseDir, job.seed),
      step: { id: step?.id ?? "grade", kind: "onnx", model: job.modelName, modelSha256: job.modelSha256 },
    };
  };
}
