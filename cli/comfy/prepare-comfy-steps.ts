import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import { parseApiWorkflow, workflowByContent, type ApiWorkflow } from "../../shared/job-spec/comfy-workflow-content.ts";
import { stepImages, type LocalComfyImage, type Problem } from "./comfy-input-images.ts";

/**
 * What `nightshift submit` does to a job's comfyui steps before it sends
 * them: the workflow file (a path relative to the job file) is read on this
 * machine and sent by content, `workflow: {file, sha256, text}`, so a
 * coordinator on another machine needs no shared path; the workflow's input
 * images are found and hashed (comfy-input-images.ts) and sent as
 * `images: {node: {file, sha256, size}}`, their bytes uploaded to the asset
 * store by the caller. A workflow that is missing, unreadable, not JSON or not
 * in ComfyUI's API format is an error naming the step and the file; every
 * problem of every step is reported at once.
 */

export interface PreparedComfySteps {
  /** The job spec with each comfyui step's workflow and images by content. */
  raw: unknown;
  /** The input images to upload to the asset store. */
  images: LocalComfyImage[];
}

type RawStep = { kind?: unknown; workflow?: unknown; bind?: { image?: { node?: unknown } }; images?: Record<string, unknown> };

/** Reads, checks and rewrites every comfyui step; throws one BadInputError naming each problem. */
export async function prepareComfySteps(raw: unknown, jobFile: string): Promise<PreparedComfySteps> {
  const steps = (raw as { steps?: unknown }).steps;
  if (!Array.isArray(steps)) return { raw, images: [] };
  const jobDir = dirname(resolve(jobFile));
  const images: LocalComfyImage[] = [];
  const problems: Problem[] = [];
  const rewritten = [];
  for (const [i, step] of (steps as RawStep[]).entries()) {
    if (step?.kind !== "comfyui") {
      rewritten.push(step);
      continue;
    }
    const read = await stepWorkflow(step.workflow, jobDir);
    if (read === null) {
      // Not a path nor a workflow by content: the job spec's own validation names the field.
      rewritten.push(step);
      continue;
    }
    if ("problem" in read) {
      problems.push({ field: `steps[${i}].workflow`, message: read.problem });
      rewritten.push(step);
      continue;
    }
    const found = await stepImages(i, step, read.graph, { workflowDir: read.dir, jobDir }, problems);
    images.push(...found);
    const byContent: Record<string, unknown> = { ...(step.images ?? {}) };
    for (const f of found) byContent[f.node] = { file: f.file, sha256: f.sha256, size: f.size };
    rewritten.push({ ...step, workflow: read.sent, ...(Object.keys(byContent).length > 0 ? { images: byContent } : {}) });
  }
  if (problems.length > 0) throw new BadInputError(problems.map((p) => `${p.field}: ${p.message}`).join("; "), { field: problems[0]?.field ?? "steps" });
  return { raw: { ...(raw as object), steps: rewritten }, images };
}

interface StepWorkflow {
  /** What the step sends: the workflow by content. */
  sent: unknown;
  graph: ApiWorkflow;
  /** Where the workflow's images are looked for first. */
  dir: string;
}

/** A path is read relative to the job file; a workflow already by content is kept (its images are looked for beside the job file). */
async function stepWorkflow(workflow: unknown, jobDir: string): Promise<StepWorkflow | { problem: string } | null> {
  if (typeof workflow === "object" && workflow !== null && typeof (workflow as { text?: unknown }).text === "string") {
    const graph = parseApiWorkflow((workflow as { text: string }).text);
    return typeof graph === "string" ? null : { sent: workflow, graph, dir: jobDir };
  }
  if (typeof workflow !== "string" || workflow === "") return null;
  const file = resolve(jobDir, workflow);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    return { problem: `cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  const checked = workflowByContent(workflow, bytes);
  if ("problem" in checked) return { problem: `'${file}' ${checked.problem}` };
  return { ...checked, dir: dirname(file) };
}
