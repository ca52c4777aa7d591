import { readFile } from "node:fs/promises";
import { BadInputError } from "../errors.ts";
import { layoutAxes, modelManifestSchema, type ModelManifest, type TensorSpec } from "./manifest-schema.ts";

/**
 * Validates a parsed manifest. Every error is a BadInputError whose `field` is
 * the dotted path of the offending field and whose message names the file.
 */
export function parseManifest(raw: unknown, manifestPath: string): ModelManifest {
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String) ?? [];
    // An unknown key is reported at its parent; name the key itself.
    if (issue?.code === "unrecognized_keys" && issue.keys[0] !== undefined) path.push(issue.keys[0]);
    const field = path.length === 0 ? "(manifest)" : path.join(".");
    const message = issue?.message ?? "invalid manifest";
    throw new BadInputError(`${manifestPath}: ${field}: ${message}`, { field, cause: parsed.error });
  }
  const manifest = parsed.data;
  checkImageTensor(manifest, manifest.inputs[0], "inputs.0", manifestPath);
  checkImageTensor(manifest, manifest.outputs[0], "outputs.0", manifestPath);
  return manifest;
}

/** Reads and validates `<name>.manifest.json`. */
export async function loadManifest(manifestPath: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(manifestPath, "utf8");
  } catch (err) {
    throw new BadInputError(`${manifestPath}: cannot read the model manifest`, { field: manifestPath, cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BadInputError(`${manifestPath}: not valid JSON`, { field: manifestPath, cause: err });
  }
  return parseManifest(raw, manifestPath);
}

/** The image tensor must agree with the layout: dtype, 3 channels, batch 1. */
function checkImageTensor(
  manifest: ModelManifest,
  spec: TensorSpec | undefined,
  at: string,
  manifestPath: string,
): void {
  if (spec === undefined) return; // the schema already requires one
  const axes = layoutAxes(manifest.layout);
  const fail = (field: string, message: string): never => {
    throw new BadInputError(`${manifestPath}: ${field}: ${message}`, { field });
  };
  if (spec.dtype !== axes.dtype) {
    fail(`${at}.dtype`, `layout ${manifest.layout} needs dtype ${axes.dtype}, got ${spec.dtype}`);
  }
  if (spec.shape[axes.channels] !== 3) {
    fail(`${at}.shape.${axes.channels}`, `layout ${manifest.layout} needs 3 (RGB) channels on this axis`);
  }
  const batch = spec.shape[0];
  // An input's first dimension may be a temporal model's window: the frame and its neighbours, an odd count.
  const window = at.startsWith("inputs") && typeof batch === "number" && batch >= 3 && batch % 2 === 1 && manifest.layout === "nchw-float01";
  if (typeof batch === "number" && batch !== 1 && !window) {
    fail(`${at}.shape.0`, `batch must be 1 or symbolic, or an odd window >= 3 for a temporal model's input (layout nchw-float01), got ${batch}`);
  }
}
