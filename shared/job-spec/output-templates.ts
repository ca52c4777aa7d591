import { BadInputError } from "../errors.ts";
import { parseTemplate, relativePathProblem, renderTemplate, type TemplateValue } from "../safe-path.ts";
import type { SpecIssue } from "./spec-issue.ts";

/**
 * Checks the output templates of a job spec before any frame is rendered:
 * known variables only, `{frame}` in the frame pattern, and, rendered with the
 * job's real name and sample numbers, a relative path with no '..', no
 * absolute path, no NUL and no backslash. The sink checks again on disk with
 * resolveUnderRoot when it writes.
 */

/** Which variables each output template may use. */
export const OUTPUT_TEMPLATE_VARIABLES = {
  path: ["job", "name"],
  framePattern: ["job", "name", "frame", "shot"],
  video: ["job", "name"],
} as const;

/** Variables whose values are numbers, so `{x:0N}` may pad them. */
const NUMBER_VARIABLES: readonly string[] = ["frame", "shot"];

export type OutputTemplates = { path: string; framePattern: string; video: string };

/** A job id of the shape shared/ids.ts makes, for test renders. */
const SAMPLE_JOB_ID = "job_000000000000000000000";

/** Context known to the caller; unknown parts are checked with a placeholder or skipped. */
export interface TemplateContext {
  /** The job's name; "name" stands in when unknown. */
  name?: string;
  /** Whether chunking.mode is "shots"; the {shot} check is skipped when unknown. */
  usesShots?: boolean;
}

/** Problems with the output templates; paths are relative to `output`. */
export function outputTemplateIssues(output: OutputTemplates, ctx: TemplateContext): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const key of ["path", "framePattern", "video"] as const) {
    const problem = templateProblem(key, output[key], ctx);
    if (problem !== undefined) issues.push({ path: [key], message: problem });
  }
  return issues;
}

function templateProblem(key: keyof OutputTemplates, template: string, ctx: TemplateContext): string | undefined {
  const literalProblem = relativePathProblem(template);
  if (literalProblem !== undefined) return literalProblem;
  const parsed = parseTemplate(template);
  if (!parsed.ok) return parsed.problem;
  const allowed: readonly string[] = OUTPUT_TEMPLATE_VARIABLES[key];
  const unknown = parsed.variables.find((v) => !allowed.includes(v));
  if (unknown !== undefined) {
    return `{${unknown}} cannot be used here; use ${allowed.map((v) => `{${v}}`).join(", ")}`;
  }
  const padded = parsed.parts.find((p) => "variable" in p && p.pad > 0 && !NUMBER_VARIABLES.includes(p.variable));
  if (padded !== undefined && "variable" in padded) {
    return `{${padded.variable}:0${padded.pad}}: only ${NUMBER_VARIABLES.map((v) => `{${v}}`).join(" and ")} can be zero-padded`;
  }
  if (key === "framePattern" && !parsed.variables.includes("frame")) {
    return "must contain {frame} (or {frame:06}), or every frame would overwrite the same file";
  }
  if (parsed.variables.includes("shot") && ctx.usesShots === false) return "{shot} needs chunking.mode 'shots'";
  const vars: Record<string, TemplateValue> = { job: SAMPLE_JOB_ID, name: ctx.name ?? "name", frame: 0, shot: 0 };
  let rendered: string;
  try {
    rendered = renderTemplate(template, vars, "template");
  } catch (err) {
    if (err instanceof BadInputError) return err.message.replace(/^template: /, "");
    throw err;
  }
  const pathProblem = relativePathProblem(rendered);
  if (pathProblem !== undefined) {
    return rendered === template ? pathProblem : `${pathProblem} (rendered from '${template}')`;
  }
  if (key !== "path" && rendered.endsWith("/")) return `'${template}' must name a file, not end with '/'`;
  return undefined;
}
