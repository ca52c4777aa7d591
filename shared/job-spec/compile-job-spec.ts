import { parseByteSize } from "./byte-size.ts";
import { DEFAULT_FPS } from "./job-spec-limits.ts";
import type { Chunking, FrameRange, JobSpec, JobStep, TemporalContext } from "./job-spec-types.ts";
import { outputTemplateIssues } from "./output-templates.ts";
import type { RawChunking, RawJobSpec, RawStep } from "./raw-schema.ts";
import type { SpecIssue } from "./spec-issue.ts";

/**
 * Rules across parts of the spec, and conversion of the field-checked spec
 * (every per-part rule in spec-rules.ts already passed) into the compiled
 * JobSpec. Pure: pushes problems into `issues`, returns undefined if any.
 */
export function compileJobSpec(raw: RawJobSpec, issues: SpecIssue[]): JobSpec | undefined {
  const before = issues.length;
  const input = raw.input;
  if (input?.type === "generated" && raw.frames !== undefined && raw.frames.end >= input.frames) {
    issues.push({ path: ["frames", "end"], message: `${raw.frames.end} is past the last input frame ${input.frames - 1}` });
  }
  if (input?.type !== "video" && input?.type !== "image-sequence" && raw.chunking.mode === "shots" && raw.chunking.shotList === undefined) {
    issues.push({ path: ["chunking"], message: "scene detection needs a video or image-sequence input; give chunking.shotList" });
  }
  issues.push(...inputIssues(raw));
  const usesShots = raw.chunking.mode === "shots";
  for (const issue of outputTemplateIssues(raw.output, { name: raw.name, usesShots })) {
    issues.push({ path: ["output", ...issue.path], message: issue.message });
  }
  if (issues.length > before) return undefined;

  const steps = compileSteps(raw.steps);
  const inputFps = input?.type === "generated" ? input.fps : undefined;
  return {
    name: raw.name,
    priority: raw.priority,
    seed: raw.seed,
    input: input === undefined ? null : input.type === "generated" ? { ...input, fps: input.fps ?? null } : input,
    frames: compileFrames(raw),
    fps: raw.fps ?? inputFps ?? DEFAULT_FPS,
    fpsSource: raw.fps !== undefined ? "spec" : inputFps !== undefined ? "input" : "default",
    steps,
    temporal: temporalContext(steps),
    chunking: compileChunking(raw.chunking),
    constraints: { tags: [...new Set(raw.constraints.tags)], minVramBytes: minVramBytes(raw.constraints) },
    window: {
      notBefore: raw.window.notBefore ?? null,
      doneBy: raw.window.doneBy ?? null,
      notBeforeMinutes: clockMinutes(raw.window.notBefore),
      doneByMinutes: clockMinutes(raw.window.doneBy),
    },
    output: raw.output,
  };
}

function compileFrames(raw: RawJobSpec): FrameRange | null {
  if (raw.frames !== undefined) return { start: raw.frames.start, end: raw.frames.end };
  return raw.input?.type === "generated" ? { start: 0, end: raw.input.frames - 1 } : null;
}

/** Whether the first frame step reads input frames, and so whether `input` is required (and `frames` without it). */
function inputIssues(raw: RawJobSpec): SpecIssue[] {
  const first = raw.steps.find((s) => s.kind !== "assemble");
  if (first === undefined) return [];
  const reads =
    first.kind === "model" || first.kind === "temporal" ||
    (first.kind === "command" && first.args.some((a) => a === "{input}" || a === "{inputDir}" || a === "{inputPattern}")) ||
    (first.kind === "comfyui" && first.bind.image !== undefined);
  if (reads && raw.input === undefined) return [{ path: ["input"], message: `is required: step '${first.id}' (${first.kind}) reads input frames` }];
  if (!reads && raw.input === undefined && raw.frames === undefined) {
    return [{ path: ["frames"], message: `is required: step '${first.id}' (${first.kind}) makes its own frames, so give the range, e.g. { start: 1, end: 240 }` }];
  }
  if (first.kind === "blender" && raw.input !== undefined) {
    return [{ path: ["input"], message: "a job whose first step is blender renders its own frames; remove input" }];
  }
  if (first.kind === "blender" && (first.format === "exr") !== raw.output.framePattern.toLowerCase().endsWith(".exr")) {
    const message = first.format === "exr" ? `must end in .exr: step '${first.id}' writes OpenEXR frames` : `must not end in .exr: step '${first.id}' writes PNG frames (format: exr makes OpenEXR)`;
    return [{ path: ["output", "framePattern"], message }];
  }
  return [];
}

function compileSteps(raw: RawStep[]): JobStep[] {
  const frameStepIds = raw.filter((s) => s.kind !== "assemble").map((s) => s.id);
  return raw.map((step): JobStep => {
    switch (step.kind) {
      case "model":
        return { ...step, modelSha256: step.modelSha256 ?? null };
      case "temporal":
        return { ...step, modelSha256: step.modelSha256 ?? null, overlap: step.overlap ?? Math.floor(step.window / 2) };
      case "blender":
        return {
          id: step.id,
          kind: "blender",
          scene: step.scene,
          engine: step.engine ?? null,
          samples: step.samples ?? null,
          resolution: step.resolution ?? null,
          percentage: step.percentage ?? null,
          version: step.version ?? null,
          ...(step.format === "exr" ? { format: "exr" as const } : {}),
        };
      case "command":
        return { id: step.id, kind: "command", program: step.program, args: step.args, per: step.per };
      case "comfyui":
        return {
          id: step.id,
          kind: "comfyui",
          workflow: step.workflow,
          bind: { seed: step.bind.seed ?? null, image: step.bind.image ?? null, prefix: step.bind.prefix ?? null },
          per: step.per,
          ...(step.minVram !== undefined ? { minVramBytes: step.minVram } : {}),
          ...(step.images !== undefined ? { images: step.images } : {}),
        };
      case "assemble":
        return { ...step, after: step.after === undefined ? frameStepIds : [...new Set(step.after)] };
    }
  });
}

/** Temporal steps run one after another, so their overlaps add up. */
function temporalContext(steps: JobStep[]): TemporalContext | null {
  const temporal = steps.flatMap((s) => (s.kind === "temporal" ? [s] : []));
  if (temporal.length === 0) return null;
  return {
    window: Math.max(...temporal.map((s) => s.window)),
    overlap: temporal.reduce((sum, s) => sum + s.overlap, 0),
  };
}

function compileChunking(raw: RawChunking): Chunking {
  if (raw.mode !== "shots") return raw;
  const maxSize = raw.maxSize ?? null;
  if (raw.shotList !== undefined) return { mode: "shots", source: { kind: "list", path: raw.shotList }, maxSize };
  return { mode: "shots", source: { kind: "detect", threshold: raw.detect?.threshold ?? 0.3 }, maxSize };
}

function minVramBytes(raw: RawJobSpec["constraints"]): number {
  if (raw.minVram === undefined) return raw.minVramBytes ?? 0;
  const parsed = parseByteSize(raw.minVram);
  if (!parsed.ok) throw new Error(`job spec: minVram passed its rule but does not parse: ${parsed.problem}`);
  return parsed.bytes;
}

function clockMinutes(hhmm: string | undefined): number | null {
  if (hhmm === undefined) return null;
  const [h, m] = hhmm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}
