import { badInputFromIssues } from "./format-issues.ts";
import type { JobSpec } from "./job-spec-types.ts";
import type { SpecIssue } from "./spec-issue.ts";

/**
 * Checks that every model the steps name is one the coordinator has. Throws
 * BadInputError naming steps[i].model: "unknown model 'x'; available: a, b".
 */
export function checkModelsAvailable(spec: Pick<JobSpec, "steps">, available: readonly string[]): void {
  const known = new Set(available);
  const listed = [...known].sort().join(", ") || "(none)";
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    if ((step.kind === "model" || step.kind === "temporal") && !known.has(step.model)) {
      issues.push({ path: ["steps", i, "model"], message: `unknown model '${step.model}'; available: ${listed}` });
    }
  });
  if (issues.length > 0) throw badInputFromIssues(issues);
}
