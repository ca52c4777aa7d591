import type { ComfyWorkflowByContent } from "./comfy-workflow-content.ts";

/**
 * The compiled job spec: every default filled, sizes in bytes, times of day
 * in minutes, cross-field rules checked. Built once by validateJobSpec and
 * trusted everywhere after. Absent optional values are `null` (not missing)
 * so that the object survives a JSON round trip unchanged.
 */

/** Inclusive frame range, 0-based input frame indices. */
export interface FrameRange {
  start: number;
  end: number;
}

export type JobInput =
  | { type: "generated"; width: number; height: number; frames: number; fps: number | null }
  | { type: "image-sequence"; path: string }
  | { type: "video"; path: string };

export interface ModelStep {
  id: string;
  kind: "model";
  model: string;
  modelSha256: string | null;
}

export interface TemporalStep {
  id: string;
  kind: "temporal";
  model: string;
  modelSha256: string | null;
  /** Frames the model looks at: the frame itself plus (window - 1) / 2 on each side. */
  window: number;
  /** Extra frames read on each side of a chunk for this step; default floor(window / 2). */
  overlap: number;
}

export interface AssembleStep {
  id: string;
  kind: "assemble";
  /** Ids of the steps whose frames it waits for; default all frame steps. */
  after: string[];
  codec: "h264";
  crf: number;
}

export interface BlenderStep {
  id: string;
  kind: "blender";
  /** The .blend file, relative to the studio's shared root. */
  scene: string;
  engine: "cycles" | "eevee" | "workbench" | null;
  samples: number | null;
  resolution: { width: number; height: number } | null;
  percentage: number | null;
  /** Version prefix ("3.4"); null = any Blender an agent has. */
  version: string | null;
  /** "exr": Blender writes OpenEXR frames; absent: PNG. */
  format?: "exr";
}

export interface CommandStep {
  id: string;
  kind: "command";
  /** A name from the agents' `commands:` allowlist. */
  program: string;
  args: string[];
  per: "frame" | "chunk";
}

export interface ComfyuiStep {
  id: string;
  kind: "comfyui";
  /** The API-format workflow JSON: a path relative to the job file (read by `nightshift submit`), or the file by content (what it sends). */
  workflow: string | ComfyWorkflowByContent;
  bind: { seed: { node: string; input: string } | null; image: { node: string; input: string } | null; prefix: { node: string; input: string } | null };
  per: "frame" | "chunk";
  /** `minVram` in bytes: the agent's ComfyUI must run on a GPU device with at least this much memory; absent: any. */
  minVramBytes?: number;
  /** Static input images by node id: a path relative to the job file, the file by content (what `nightshift submit` sends), or false: on every agent already. */
  images?: Record<string, string | ComfyImageByContent | false>;
}

/** A comfyui input image as `nightshift submit` sends it: the artist's file name, its sha256 and size (uploaded to the asset store). */
export interface ComfyImageByContent {
  file: string;
  sha256: string;
  size: number;
}

export type FrameStep = ModelStep | TemporalStep | BlenderStep | CommandStep | ComfyuiStep;
export type JobStep = FrameStep | AssembleStep;

export type ShotSource = { kind: "list"; path: string } | { kind: "detect"; threshold: number };

export type Chunking =
  | { mode: "fixed"; size: number }
  | { mode: "shots"; source: ShotSource; maxSize: number | null }
  | { mode: "adaptive"; targetSeconds: number; minSize: number; maxSize: number };

/** What the planner needs to know about temporal steps, summed over all of them. */
export interface TemporalContext {
  /** Largest window of any temporal step. */
  window: number;
  /** Sum of the temporal steps' overlaps: frames read on each side of a chunk. */
  overlap: number;
}

export interface JobSpec {
  name: string;
  priority: number;
  seed: number;
  /** null when the first step makes frames from nothing (Blender, ComfyUI without an image input); `frames` is then required. */
  input: JobInput | null;
  /** The frames to render; null = all input frames (known once the input is probed). */
  frames: FrameRange | null;
  fps: number;
  /** Where fps came from; "default" may be replaced by a video's probed rate. */
  fpsSource: "spec" | "input" | "default";
  steps: JobStep[];
  /** null when the job has no temporal step. */
  temporal: TemporalContext | null;
  chunking: Chunking;
  constraints: { tags: string[]; minVramBytes: number };
  window: {
    notBefore: string | null;
    doneBy: string | null;
    /** Minutes after local midnight. doneBy < notBefore means the window spans midnight. */
    notBeforeMinutes: number | null;
    doneByMinutes: number | null;
  };
  /** Templates, relative: `path` under the output root, the other two under `path`. */
  output: { path: string; framePattern: string; video: string };
}
