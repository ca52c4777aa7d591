import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { BadInputError } from "../errors.ts";
import { loadManifest } from "./manifest-load.ts";
import type { ModelManifest } from "./manifest-schema.ts";
import { verifyModelFile } from "./model-file-hash.ts";

/**
 * A models directory holds `<anything>.manifest.json` files, each naming a
 * model file beside it. A model is found by its manifest's `name`.
 */

export const MANIFEST_SUFFIX = ".manifest.json";

export interface ResolvedModel {
  manifest: ModelManifest;
  manifestPath: string;
  /** Absolute path of the model file. */
  modelPath: string;
}

export type ModelListing =
  | { ok: true; manifestPath: string; model: ResolvedModel }
  | { ok: false; manifestPath: string; error: Error };

/** Every manifest in the directory, sorted by file name; broken ones are listed with their error. */
export async function listModels(modelsDir: string): Promise<ModelListing[]> {
  const files = await manifestFiles(modelsDir);
  const listings: ModelListing[] = [];
  for (const file of files) {
    const manifestPath = join(modelsDir, file);
    try {
      listings.push({ ok: true, manifestPath, model: await resolveFromManifest(manifestPath) });
    } catch (err) {
      listings.push({ ok: false, manifestPath, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
  return listings;
}

/**
 * Finds the model called `name`: `<name>.manifest.json` first, otherwise any
 * manifest whose `name` matches. With `verify` (the default) the model file's
 * sha256 is checked against the manifest.
 */
export async function resolveModel(
  modelsDir: string,
  name: string,
  options: { verify?: boolean } = {},
): Promise<ResolvedModel> {
  const files = await manifestFiles(modelsDir);
  const preferred = `${name}${MANIFEST_SUFFIX}`;
  const ordered = files.includes(preferred) ? [preferred, ...files.filter((f) => f !== preferred)] : files;
  let found: ResolvedModel | undefined;
  for (const file of ordered) {
    const manifestPath = join(modelsDir, file);
    if (file === preferred) {
      const model = await resolveFromManifest(manifestPath);
      if (model.manifest.name === name) {
        found = model;
        break;
      }
      continue;
    }
    let model: ResolvedModel;
    try {
      model = await resolveFromManifest(manifestPath);
    } catch {
      continue; // another model's broken manifest must not hide this one
    }
    if (model.manifest.name === name) {
      found = model;
      break;
    }
  }
  if (found === undefined) {
    const known = (await listModels(modelsDir)).flatMap((l) => (l.ok ? [l.model.manifest.name] : []));
    throw new BadInputError(
      `model "${name}" not found in ${modelsDir} (available: ${known.length > 0 ? known.join(", ") : "none"})`,
      { field: "model" },
    );
  }
  if (options.verify ?? true) await verifyModelFile(found.modelPath, found.manifest.sha256);
  return found;
}

/** Loads one manifest and works out where its model file is. */
export async function resolveFromManifest(manifestPath: string): Promise<ResolvedModel> {
  const absolute = resolve(manifestPath);
  const manifest = await loadManifest(absolute);
  return { manifest, manifestPath: absolute, modelPath: resolve(absolute, "..", manifest.file) };
}

async function manifestFiles(modelsDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(modelsDir);
  } catch (err) {
    throw new BadInputError(`${modelsDir}: cannot read the models directory`, { field: "modelsDir", cause: err });
  }
  return entries.filter((e) => e.endsWith(MANIFEST_SUFFIX) && !e.startsWith(".")).sort();
}
