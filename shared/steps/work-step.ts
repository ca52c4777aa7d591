import { createHash } from "node:crypto";
import { z } from "zod";
import { MAX_TREE_FILES, SceneFileSchema } from "../assets/scene-tree.ts";

/**
 * The step kind seam: what a chunk's agent must run, as it travels in the work
 * description (ChunkWork.steps), one entry per frame step in chain order. The
 * job spec (shared/job-spec/) compiles a job file's steps into these; the
 * scheduler reads their needs (step-needs.ts); the agent's executor registry
 * (agent/executors/executor-registry.ts) builds one executor per entry.
 * Adding a kind means: a member of this union, one executor factory, its tests.
 */

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** One model frame step on onnxruntime. `window` set: a temporal step that sees window frames centred on each output frame. */
export const ModelWorkStepSchema = z.object({
  id: z.string().min(1),
  kind: z.literal("model"),
  model: z.string().min(1),
  modelSha256: sha256Hex,
  window: z.number().int().min(3).max(255).nullable(),
  /** Set when the model comes from the coordinator's model store: an agent that lacks it fetches it by sha256 and size. */
  modelSize: z.number().int().nonnegative().optional(),
  /** The store's manifest for the model (JSON), so an agent without the model in its models folder can run it. */
  modelManifest: z.string().max(1_000_000).optional(),
});

/** A Blender render of the chunk's frames from a scene under the studio's shared root, or sent by content (`tree`). */
export const BlenderWorkStepSchema = z.object({
  id: z.string().min(1),
  kind: z.literal("blender"),
  /** The scene, relative to the shared root (or to the tree's root), with '/' separators (never absolute, never '..'). */
  scene: z.string().min(1),
  /** sha256 of the .blend file as submitted (what made the frames). */
  sceneSha256: sha256Hex,
  engine: z.enum(["cycles", "eevee", "workbench"]).nullable(),
  samples: z.number().int().min(1).max(1_000_000).nullable(),
  resolution: z.object({ width: z.number().int().min(1).max(65536), height: z.number().int().min(1).max(65536) }).nullable(),
  /** Resolution percentage, 1..100 (Blender's render.resolution_percentage). */
  percentage: z.number().int().min(1).max(100).nullable(),
  /** Version prefix the step pins ("3.4", "3.4.1"); null = any Blender the agent has. */
  version: z.string().nullable(),
  /** Set when the scene was uploaded at submit: the scene and every file it references, fetched by sha256 from the store. */
  tree: z.array(SceneFileSchema).max(MAX_TREE_FILES).optional(),
  /** "exr": Blender writes OpenEXR frames; absent: PNG. */
  format: z.literal("exr").optional(),
});

/** A program the agent's admin allowed by name, run without a shell, once per frame or once per chunk. */
export const CommandWorkStepSchema = z.object({
  id: z.string().min(1),
  kind: z.literal("command"),
  /** A name from the agent's `commands:` allowlist, never a path. */
  program: z.string().min(1),
  /** Arguments; placeholders ({input}, {output}, {frame}, ...) are substituted as whole arguments only. */
  args: z.array(z.string()),
  per: z.enum(["frame", "chunk"]),
});

/** Where nightshift writes its per-frame values into a ComfyUI API-format workflow. */
export const ComfyBindingSchema = z.object({ node: z.string().min(1), input: z.string().min(1) });

/**
 * A static input image of a ComfyUI workflow (a LoadImage-family node's `image`: a reference, a mask, a logo),
 * sent by content at submit: the agent fetches it from the asset store and uploads it to its own ComfyUI.
 */
export const ComfyImageSchema = z.object({
  /** The workflow node whose `image` input gets the uploaded file's name. */
  node: z.string().min(1),
  sha256: sha256Hex,
  size: z.number().int().nonnegative(),
  /** The file's name as the artist had it (the workflow's value, or the job's `images` path), for messages. */
  name: z.string().min(1).max(1024),
});

/** A ComfyUI workflow in API format ({node id: {class_type, inputs}}), run on the agent's own ComfyUI server. */
export const ComfyuiWorkStepSchema = z.object({
  id: z.string().min(1),
  kind: z.literal("comfyui"),
  workflow: z.record(z.string(), z.looseObject({ class_type: z.string().min(1), inputs: z.record(z.string(), z.unknown()) })),
  /** sha256 of the workflow JSON as submitted. */
  workflowSha256: sha256Hex,
  bind: z.object({
    seed: ComfyBindingSchema.nullable(),
    image: ComfyBindingSchema.nullable(),
    prefix: ComfyBindingSchema.nullable(),
  }),
  /** frame: one prompt per output frame; chunk: one prompt makes the whole chunk's frames. */
  per: z.enum(["frame", "chunk"]),
  /** The step's `minVram` in bytes: placed only where ComfyUI runs on a GPU device that large; absent: any (and on rows older than the field). */
  minVramBytes: z.number().int().min(0).optional(),
  /** Static input images sent by content, sorted by node; absent on jobs older than the field (the files then sit in each ComfyUI's input folder). */
  images: z.array(ComfyImageSchema).max(64).optional(),
});

export const WorkStepSchema = z.discriminatedUnion("kind", [
  ModelWorkStepSchema,
  BlenderWorkStepSchema,
  CommandWorkStepSchema,
  ComfyuiWorkStepSchema,
]);

export type ModelWorkStep = z.infer<typeof ModelWorkStepSchema>;
export type BlenderWorkStep = z.infer<typeof BlenderWorkStepSchema>;
export type CommandWorkStep = z.infer<typeof CommandWorkStepSchema>;
export type ComfyuiWorkStep = z.infer<typeof ComfyuiWorkStepSchema>;
export type ComfyBinding = z.infer<typeof ComfyBindingSchema>;
export type ComfyImage = z.infer<typeof ComfyImageSchema>;
export type WorkStep = z.infer<typeof WorkStepSchema>;
export type StepKind = WorkStep["kind"];
export const STEP_KINDS: readonly StepKind[] = ["model", "blender", "command", "comfyui"];

/** Kinds whose first step makes frames from nothing (no input frames are read). */
export function isGenerative(step: WorkStep): boolean {
  return step.kind === "blender" || (step.kind === "comfyui" && step.bind.image === null) || (step.kind === "command" && !step.args.some((a) => a.startsWith("{input")));
}

/** What identifies a command step's work: the sha256 of its program name, arguments and `per` (shown by `job show`, keyed on by the scheduler). */
export function commandStepSha256(step: Pick<CommandWorkStep, "program" | "args" | "per">): string {
  return createHash("sha256").update(JSON.stringify([step.program, step.args, step.per])).digest("hex");
}
