import { z } from "zod";

/**
 * The manifest that sits beside every model in a models directory
 * (`<name>.manifest.json`). It says which file holds the model, its sha256,
 * how the image goes in and out (layout), and how much memory one frame needs
 * so that the scheduler can place the work without loading the model.
 */

/** How the image tensor is laid out, for both the input and the output. */
export const MODEL_LAYOUTS = ["nchw-float01", "nhwc-uint8"] as const;
export type ModelLayout = (typeof MODEL_LAYOUTS)[number];

export const MODEL_DTYPES = ["float32", "uint8"] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];

/** A dimension is either a fixed size or a symbolic name ("height"). */
const dimension = z.union([z.number().int().positive(), z.string().min(1)]);

const tensorSpec = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(MODEL_DTYPES),
  shape: z.array(dimension).length(4),
});

export const modelManifestSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"),
  version: z.string().min(1),
  /** File name of the model, relative to the manifest's directory. */
  file: z
    .string()
    .min(1)
    .refine((f) => !f.startsWith("/") && !f.split(/[\\/]/).includes(".."), "must be a path inside the models directory"),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
  executor: z.literal("onnx"),
  /** Exactly one image input; the model is fed one frame at a time. */
  inputs: z.array(tensorSpec).length(1),
  /** The first output is the image; further outputs are ignored. */
  outputs: z.array(tensorSpec).min(1),
  layout: z.enum(MODEL_LAYOUTS),
  /** Peak memory need for one 1080p frame, bytes (device memory on a GPU). */
  memoryBytes: z.number().int().positive(),
  description: z.string().default(""),
  /** SPDX identifier of the weights' licence (the upstream model's); "" for models made here. */
  license: z.string().default(""),
  /** Where the weights came from (upstream project, and the package they were fetched from). */
  source: z
    .strictObject({
      /** The upstream model (author's page or repository). */
      upstream: z.string().min(1),
      /** The package or URL the file was fetched from, with its version. */
      fetchedFrom: z.string().min(1),
      /** Who to credit, as the licence asks. */
      attribution: z.string().default(""),
    })
    .optional(),
  /** Output size / input size, per side: 2 for a 2x super-resolution model. */
  scale: z.number().int().min(1).max(16).default(1),
  /**
   * Run the model on tiles of `size` x `size` input pixels that overlap by
   * `overlap` pixels and are blended (agent/executors/tiled-inference.ts),
   * so that any frame size works with a fixed-input model. A tile smaller than
   * a fixed model input is padded by repeating its edge pixels.
   */
  tile: z
    .strictObject({
      size: z.number().int().min(16).max(8192),
      overlap: z.number().int().min(0).max(1024),
    })
    .refine((t) => t.overlap * 2 < t.size, { message: "overlap must be less than half the tile size", path: ["overlap"] })
    .optional(),
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;
export type TensorSpec = z.infer<typeof tensorSpec>;
export type Dimension = z.infer<typeof dimension>;

/** Where height, width and channels sit in a 4-d image tensor of this layout. */
export function layoutAxes(layout: ModelLayout): { channels: number; height: number; width: number; dtype: ModelDtype } {
  return layout === "nchw-float01"
    ? { channels: 1, height: 2, width: 3, dtype: "float32" }
    : { channels: 3, height: 1, width: 2, dtype: "uint8" };
}
