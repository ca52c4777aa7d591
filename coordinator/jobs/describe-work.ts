import { isAbsolute, resolve } from "node:path";
import type { JobInput } from "../../shared/job-spec/index.ts";
import type { WorkInput } from "../../shared/protocol/messages.ts";
import type { WorkDescriber } from "../dispatch/claim-service.ts";
import type { JobSpecs } from "./job-specs.ts";

/** The input as an agent reads it: paths absolute (agents see the NAS at the same mount point). */
export function workInput(input: JobInput, baseDir: string, seed: number): WorkInput {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  switch (input.type) {
    case "generated":
      return { type: "generated", width: input.width, height: input.height, frames: input.frames, seed };
    case "image-sequence":
      return { type: "image-sequence", path: abs(input.path) };
    case "video":
      return { type: "video", path: abs(input.path) };
  }
}

export function workDescriber(specs: JobSpecs): WorkDescriber {
  return (job) => {
    const spec = specs.of(job);
    return { input: spec.input ? workInput(spec.input, job.baseDir, job.seed) : null, steps: specs.steps(job) };
  };
}
