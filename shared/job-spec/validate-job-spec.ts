import { z } from "zod";
import { compileJobSpec } from "./compile-job-spec.ts";
import { badInputFromIssues, specIssuesFromZod } from "./format-issues.ts";
import type { JobSpec } from "./job-spec-types.ts";
import { rawJobSpecSchema } from "./raw-schema.ts";
import type { SpecIssue } from "./spec-issue.ts";

/**
 * The one place a job spec is validated. Field checks and defaults come from
 * raw-schema.ts, cross-field rules and conversion from compile-job-spec.ts.
 * `z.infer<typeof jobSpecSchema>` is the compiled JobSpec.
 */
export const jobSpecSchema = rawJobSpecSchema.transform((raw, ctx): JobSpec => {
  const issues: SpecIssue[] = [];
  const spec = compileJobSpec(raw, issues);
  if (spec === undefined) {
    for (const issue of issues) ctx.issues.push({ code: "custom", message: issue.message, path: [...issue.path], input: raw });
    return z.NEVER;
  }
  return spec;
});

const TOP_LEVEL_FIELDS = Object.keys(rawJobSpecSchema.shape);

/**
 * Validates a parsed job file (YAML or JSON, already parsed) and returns the
 * compiled spec. Throws BadInputError listing the first few problems, each
 * with its dotted field path; `field` is the first one's path.
 */
export function validateJobSpec(raw: unknown): JobSpec {
  const result = jobSpecSchema.safeParse(raw);
  if (result.success) return result.data;
  throw badInputFromIssues(specIssuesFromZod(result.error.issues, raw, TOP_LEVEL_FIELDS));
}
