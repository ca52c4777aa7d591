import { parseByteSize } from "./byte-size.ts";
import { COMMAND_PLACEHOLDERS, MAX_JOB_FRAMES } from "./job-spec-limits.ts";
import type { SpecIssue } from "./spec-issue.ts";

/**
 * Rules that look at several fields of one part of the spec (the steps list,
 * the frame range, ...). raw-schema.ts attaches each to its part, so they run
 * even when another part of the spec has errors and every problem is reported
 * in one go. Paths are relative to the part.
 */

export function frameRangeIssues(range: { start: number; end: number }): SpecIssue[] {
  if (range.end < range.start) return [{ path: ["end"], message: `${range.end} is before frames.start ${range.start}` }];
  const count = range.end - range.start + 1;
  if (count > MAX_JOB_FRAMES) {
    return [{ path: [], message: `${count} frames is more than the ${MAX_JOB_FRAMES} one job may have; split it into several jobs` }];
  }
  return [];
}

type StepLike = { id: string; kind: string; after?: string[] | undefined };

export function stepsIssues(steps: readonly StepLike[]): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const seen = new Map<string, number>();
  steps.forEach((step, i) => {
    const first = seen.get(step.id);
    if (first !== undefined) issues.push({ path: [i, "id"], message: `'${step.id}' is already the id of steps[${first}]` });
    else seen.set(step.id, i);
  });
  const assembles = steps.flatMap((s, i) => (s.kind === "assemble" ? [i] : []));
  for (const i of assembles.slice(1)) issues.push({ path: [i, "kind"], message: "a job has at most one assemble step" });
  const firstAssemble = assembles[0];
  if (firstAssemble !== undefined && firstAssemble !== steps.length - 1) {
    issues.push({ path: [firstAssemble, "kind"], message: "the assemble step must be the last step" });
  }
  if (steps.length > 0 && assembles.length === steps.length) {
    issues.push({ path: [], message: "needs at least one frame step (model, temporal, blender, command or comfyui)" });
  }
  steps.forEach((step, i) => {
    if (step.kind === "blender" && i > 0) {
      issues.push({ path: [i, "kind"], message: "a blender step makes frames from nothing, so it must be the first step" });
    }
  });
  const frameStepIds = steps.filter((s) => s.kind !== "assemble").map((s) => s.id);
  steps.forEach((step, i) => {
    (step.after ?? []).forEach((ref, j) => {
      if (frameStepIds.includes(ref)) return;
      const what = ref === step.id ? "is this step itself" : "is not the id of a frame step";
      issues.push({ path: [i, "after", j], message: `'${ref}' ${what} (ids: ${frameStepIds.join(", ") || "none"})` });
    });
  });
  return issues;
}

type ChunkingLike =
  | { mode: "fixed" }
  | { mode: "shots"; shotList?: string | undefined; detect?: unknown }
  | { mode: "adaptive"; minSize: number; maxSize: number };

export function chunkingIssues(chunking: ChunkingLike): SpecIssue[] {
  if (chunking.mode === "adaptive" && chunking.maxSize < chunking.minSize) {
    return [{ path: ["maxSize"], message: `${chunking.maxSize} is less than chunking.minSize ${chunking.minSize}` }];
  }
  if (chunking.mode === "shots" && chunking.shotList !== undefined && chunking.detect !== undefined) {
    return [{ path: ["detect"], message: "give chunking.shotList or chunking.detect, not both" }];
  }
  return [];
}

export function constraintsIssues(constraints: { minVram?: string | undefined; minVramBytes?: number | undefined }): SpecIssue[] {
  if (constraints.minVram === undefined) return [];
  if (constraints.minVramBytes !== undefined) {
    return [{ path: ["minVram"], message: "give constraints.minVram or constraints.minVramBytes, not both" }];
  }
  const parsed = parseByteSize(constraints.minVram);
  return parsed.ok ? [] : [{ path: ["minVram"], message: parsed.problem }];
}

export function windowIssues(window: { notBefore?: string | undefined; doneBy?: string | undefined }): SpecIssue[] {
  if (window.notBefore !== undefined && window.notBefore === window.doneBy) {
    return [{ path: ["doneBy"], message: "is the same as window.notBefore, which leaves no time to work" }];
  }
  return [];
}

/**
 * A command step's arguments: a placeholder must be a whole argument
 * ("{input}", never "-i{input}"), so that a frame path can never be split or
 * glued into another flag; per-frame steps write {output}, per-chunk steps
 * write into {outputDir}.
 */
export function commandIssues(step: { args: string[]; per: "frame" | "chunk" }): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const known = new Set<string>(COMMAND_PLACEHOLDERS);
  step.args.forEach((arg, i) => {
    const found = arg.match(/\{[A-Za-z]+\}/g) ?? [];
    for (const p of found) {
      if (!known.has(p)) issues.push({ path: ["args", i], message: `unknown placeholder ${p}; known: ${COMMAND_PLACEHOLDERS.join(", ")}` });
      else if (arg !== p) issues.push({ path: ["args", i], message: `${p} must be a whole argument, not part of '${arg}'` });
    }
  });
  const perFrameOnly = ["{input}", "{output}", "{frame}"];
  const perChunkOnly = ["{inputDir}", "{outputDir}", "{inputPattern}", "{outputPattern}", "{first}", "{last}"];
  const wrong = step.per === "frame" ? perChunkOnly : perFrameOnly;
  step.args.forEach((arg, i) => {
    if (wrong.includes(arg)) issues.push({ path: ["args", i], message: `${arg} is for per: ${step.per === "frame" ? "chunk" : "frame"} steps` });
  });
  const writes = step.per === "frame" ? ["{output}"] : ["{outputDir}", "{outputPattern}"];
  if (!writes.some((w) => step.args.includes(w))) {
    issues.push({ path: ["args"], message: `must pass ${writes.join(" or ")}: where the program writes its ${step.per === "frame" ? "frame" : "frames"}` });
  }
  return issues;
}
