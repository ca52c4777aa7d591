import { z } from "zod";
import { parseByteSize } from "./byte-size.ts";
import { MAX_WORKFLOW_BYTES } from "./comfy-workflow-content.ts";
import { MAX_JOB_FRAMES, MODEL_NAME, PROGRAM_NAME, STEP_ID } from "./job-spec-limits.ts";
import { outputTemplateIssues, type OutputTemplates } from "./output-templates.ts";
import type { SpecIssue } from "./spec-issue.ts";
import { chunkingIssues, commandIssues, constraintsIssues, frameRangeIssues, stepsIssues, windowIssues } from "./spec-rules.ts";

/**
 * The shape of a job file, field by field. Every object is strict so that a
 * typo ("prioirty") is an error, not a silently ignored field. Defaults that
 * need no other field are filled here. Rules over one part of the spec
 * (spec-rules.ts) are attached to that part, so they report even when another
 * part is wrong; rules across parts live in compile-job-spec.ts.
 */

/** Attaches a rule to a schema part; the rule's paths are relative to the part. */
function rule<T>(check: (value: T) => SpecIssue[]) {
  return (value: T, ctx: z.RefinementCtx): void => {
    for (const issue of check(value)) ctx.addIssue({ code: "custom", message: issue.message, path: [...issue.path] });
  };
}

const frameIndex = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const positiveInt = z.number().int().min(1).max(MAX_JOB_FRAMES);
const fps = z.number().positive().max(1000);
const nonEmptyPath = z.string().min(1).refine((p) => !p.includes("\0"), "must not contain a NUL character");
const sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits (a sha256)")
  .transform((s) => s.toLowerCase());
const modelName = z
  .string()
  .regex(MODEL_NAME, "must be a model name: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");
const stepId = z
  .string()
  .regex(STEP_ID, "must be a step id: a letter, then letters, digits, '_' or '-' (at most 64)");
const comfyBinding = z.strictObject({ node: z.string().min(1).max(64), input: z.string().min(1).max(128) });
/**
 * A comfyui step's static input image, by node id: a path relative to the job file (the artist's file, which
 * `nightshift submit` uploads), the file by content as `nightshift submit` sends it ({file, sha256, size}), or
 * false: the node's file already sits in every agent's ComfyUI input folder, nothing is sent.
 */
const comfyImage = z.union([
  z.literal(false),
  nonEmptyPath.refine((p) => p.length <= 1024, "must be at most 1024 characters"),
  z.strictObject({ file: nonEmptyPath.refine((p) => p.length <= 1024, "must be at most 1024 characters"), sha256, size: z.number().int().min(0) }),
]);
/**
 * A comfyui step's workflow: the API-format JSON file, relative to the job file (what an artist writes; `nightshift
 * submit` reads it), or the file by content as `nightshift submit` sends it ({file, sha256, text}).
 */
const comfyWorkflow = z.union([
  nonEmptyPath.refine((p) => p.endsWith(".json"), "must be a ComfyUI workflow in API format (.json)"),
  z.strictObject({
    file: nonEmptyPath.refine((p) => p.length <= 1024, "must be at most 1024 characters"),
    sha256,
    text: z.string().max(MAX_WORKFLOW_BYTES, `must be at most ${MAX_WORKFLOW_BYTES} characters`),
  }),
]);
/** A memory size with its unit ("12GiB", "16 GB"), compiled to bytes; the problem names what is wrong with the text. */
const byteSize = z.string().transform((text, ctx) => {
  const parsed = parseByteSize(text);
  if (parsed.ok) return parsed.bytes;
  ctx.addIssue({ code: "custom", message: parsed.problem });
  return z.NEVER;
});
const clockTime = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, "must be a time of day as HH:MM (00:00 to 23:59)");

const input = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("generated"),
    width: z.number().int().min(1).max(16384),
    height: z.number().int().min(1).max(16384),
    frames: positiveInt,
    fps: fps.optional(),
  }),
  z.strictObject({ type: z.literal("image-sequence"), path: nonEmptyPath }),
  z.strictObject({ type: z.literal("video"), path: nonEmptyPath }),
]);

const frames = z.strictObject({ start: frameIndex, end: frameIndex }).superRefine(rule(frameRangeIssues));

const step = z.discriminatedUnion("kind", [
  z.strictObject({ id: stepId, kind: z.literal("model"), model: modelName, modelSha256: sha256.optional() }),
  z.strictObject({
    id: stepId,
    kind: z.literal("temporal"),
    model: modelName,
    modelSha256: sha256.optional(),
    window: z
      .number()
      .int()
      .min(3)
      .max(255)
      .refine((w) => w % 2 === 1, "must be odd (the frame itself plus the same number on each side)"),
    overlap: z.number().int().min(0).max(255).optional(),
  }),
  z.strictObject({
    id: stepId,
    kind: z.literal("blender"),
    scene: nonEmptyPath.refine((p) => p.endsWith(".blend"), "must be a .blend file"),
    engine: z.enum(["cycles", "eevee", "workbench"]).optional(),
    samples: z.number().int().min(1).max(1_000_000).optional(),
    resolution: z.strictObject({ width: z.number().int().min(1).max(65536), height: z.number().int().min(1).max(65536) }).optional(),
    percentage: z.number().int().min(1).max(100).optional(),
    version: z.string().regex(/^[0-9]+(\.[0-9]+){0,2}$/, "must be a Blender version such as 3.4 or 3.4.1").optional(),
    /** The frames' file format: PNG (default) or OpenEXR (the scene's own EXR codec and depth). */
    format: z.enum(["png", "exr"]).optional(),
  }),
  z.strictObject({
    id: stepId,
    kind: z.literal("command"),
    program: z.string().regex(PROGRAM_NAME, "must be a program name the agents' admins allowed (letters, digits, '.', '_', '-'), never a path"),
    args: z.array(z.string().max(4096).refine((a) => !a.includes("\0"), "must not contain a NUL character")).max(256).default([]),
    per: z.enum(["frame", "chunk"]).default("frame"),
  }).superRefine(rule(commandIssues)),
  z.strictObject({
    id: stepId,
    kind: z.literal("comfyui"),
    workflow: comfyWorkflow,
    bind: z
      .strictObject({ seed: comfyBinding.optional(), image: comfyBinding.optional(), prefix: comfyBinding.optional() })
      .default({}),
    per: z.enum(["frame", "chunk"]).default("frame"),
    /** The GPU memory the workflow needs: only agents whose ComfyUI runs on a card at least this large get its chunks. */
    minVram: byteSize.optional(),
    /** Static input images by node id (LoadImage-family nodes' `image`); `nightshift submit` fills it from the workflow. */
    images: z.record(z.string().min(1).max(64), comfyImage).refine((m) => Object.keys(m).length <= 64, "at most 64 images per step").optional(),
  }),
  z.strictObject({
    id: stepId,
    kind: z.literal("assemble"),
    after: z.array(stepId).optional(),
    codec: z.literal("h264").default("h264"),
    crf: z.number().int().min(0).max(51).default(18),
  }),
]);

const chunking = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("fixed"), size: positiveInt.default(8) }),
  z.strictObject({
    mode: z.literal("shots"),
    shotList: nonEmptyPath.optional(),
    detect: z.strictObject({ threshold: z.number().min(0).max(1).default(0.3) }).optional(),
    maxSize: positiveInt.optional(),
  }),
  z.strictObject({
    mode: z.literal("adaptive"),
    targetSeconds: z.number().positive().max(86_400).default(60),
    minSize: positiveInt,
    maxSize: positiveInt,
  }),
]).superRefine(rule(chunkingIssues));

const constraints = z.strictObject({
  tags: z.array(z.string().regex(/^[^\s\0]{1,64}$/, "must be a tag: 1 to 64 characters, no spaces")).default([]),
  minVramBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  minVram: z.string().optional(),
}).superRefine(rule(constraintsIssues));

const output = z.strictObject({
  path: z.string().default("{job}/"),
  framePattern: z.string().default("frame_{frame:06}.png"),
  video: z.string().default("{job}.mp4"),
}).superRefine(rule((o: OutputTemplates) => outputTemplateIssues(o, {})));

export const rawJobSpecSchema = z.strictObject({
  name: z
    .string()
    .max(200)
    .refine((n) => n.trim().length > 0, "must not be empty")
    .refine((n) => !/\p{Cc}/u.test(n), "must be readable text (no control characters)"),
  priority: z.number().int().min(-100).max(100).default(0),
  seed: z.number().int().min(0).max(0xffff_ffff).default(0),
  input: input.optional(),
  frames: frames.optional(),
  fps: fps.optional(),
  steps: z.array(step).min(1).superRefine(rule(stepsIssues)),
  chunking: chunking.default({ mode: "fixed", size: 8 }),
  constraints: constraints.default({ tags: [] }),
  window: z
    .strictObject({ notBefore: clockTime.optional(), doneBy: clockTime.optional() })
    .superRefine(rule(windowIssues))
    .default({}),
  output: output.default({ path: "{job}/", framePattern: "frame_{frame:06}.png", video: "{job}.mp4" }),
});

/** A job file after field-level checks and defaults, before cross-field checks. */
export type RawJobSpec = z.infer<typeof rawJobSpecSchema>;
/** What a job file may contain (defaulted fields optional). */
export type JobSpecInput = z.input<typeof rawJobSpecSchema>;
export type RawStep = RawJobSpec["steps"][number];
export type RawChunking = RawJobSpec["chunking"];
