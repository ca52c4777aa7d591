import { realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { sha256File } from "../../shared/model-manifest/model-file-hash.ts";
import type { ApiWorkflow } from "../../shared/job-spec/index.ts";
import type { LocalAsset } from "../upload-assets.ts";

/**
 * `nightshift submit` of a comfyui step: the workflow's static input images
 * (a reference, a mask, a logo named by a LoadImage or LoadImageMask node)
 * travel by content, so that an agent whose ComfyUI input folder is empty can
 * run the job. Each such node's `image` value is looked for beside the
 * workflow file, then beside the job file; the step's `images` field names a
 * file for a node by a path relative to the job file instead, or `false` for
 * a file that already sits in every agent's ComfyUI input folder. The node
 * bound to the input frames (`bind.image`) is left alone. A file that is missing, or
 * that leaves those folders (`..`, an absolute path elsewhere, a symlink out),
 * is an error naming the step, the node and the file. prepare-comfy-steps.ts
 * rewrites the step with `images: {node: {file, sha256, size}}`, what the
 * coordinator checks against its asset store.
 */

/** ComfyUI's loaders of one file from its input folder (nodes.py): their `image` input names it. */
export const INPUT_IMAGE_LOADERS: ReadonlySet<string> = new Set(["LoadImage", "LoadImageMask"]);

/** A found image: the node it is for, the name the artist gave, and the file on this machine. */
export interface LocalComfyImage extends LocalAsset {
  step: number;
  node: string;
  /** The workflow's value or the job's `images` path, as written. */
  file: string;
}

type RawStep = { bind?: { image?: { node?: unknown } }; images?: Record<string, unknown> };

export interface Problem {
  field: string;
  message: string;
}

export interface Roots {
  workflowDir: string;
  jobDir: string;
}

/** Finds and hashes step `index`'s input images; each one missing or out of bounds is pushed onto `problems`. */
export async function stepImages(index: number, step: RawStep, workflow: ApiWorkflow, roots: Roots, problems: Problem[]): Promise<LocalComfyImage[]> {
  const bound = step.bind?.image?.node;
  const explicit = step.images ?? {};
  const out: LocalComfyImage[] = [];
  const add = async (node: string, field: string, file: string, where: string[]): Promise<void> => {
    const classType = workflow[node]?.class_type ?? "?";
    const found = await findFile(file, where);
    if (typeof found === "string") {
      problems.push({ field, message: `node '${node}' (${classType}) image '${file}': ${found}` });
      return;
    }
    out.push({ step: index, node, file, local: found.path, sha256: await sha256File(found.path), size: found.size });
  };
  for (const [node, value] of Object.entries(explicit)) {
    if (typeof value !== "string") continue; // already by content, or false: on every agent already
    const field = `steps[${index}].images.${node}`;
    if (workflow[node] === undefined) problems.push({ field, message: `node '${node}' is not in the workflow` });
    else await add(node, field, value, [roots.jobDir]);
  }
  for (const [node, n] of Object.entries(workflow)) {
    if (node === bound || node in explicit || !INPUT_IMAGE_LOADERS.has(n.class_type)) continue;
    const value = n.inputs.image;
    if (typeof value !== "string" || value === "") continue;
    const name = inputFolderName(value);
    // "name [output]" / "[temp]" point at ComfyUI's own output or temp folder on the agent: nothing the artist has.
    if (name === null) continue;
    await add(node, `steps[${index}].workflow`, name, [roots.workflowDir, roots.jobDir]);
  }
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/** The file a LoadImage value names in the input folder ("ref.png", "refs/ref.png", "ref.png [input]"); null for another folder's annotation. */
export function inputFolderName(value: string): string | null {
  if (value.endsWith(" [output]") || value.endsWith(" [temp]")) return null;
  return value.endsWith(" [input]") ? value.slice(0, -" [input]".length) : value;
}

/**
 * The file `name` stands for under the first of `roots` that has it, or why none does. Refused: NUL, a '..'
 * segment, an absolute path outside every root, and a file whose real path (symlinks followed) leaves its root.
 */
export async function findFile(name: string, roots: readonly string[]): Promise<{ path: string; size: number } | string> {
  if (name.includes("\0")) return "must not contain a NUL character";
  if (name.split(/[\\/]/).includes("..")) return "must not contain '..'";
  const tried: string[] = [];
  for (const root of [...new Set(roots)]) {
    const candidate = resolve(root, name);
    if (isAbsolute(name) && !inside(root, candidate)) continue;
    tried.push(candidate);
    const info = await stat(candidate).catch(() => undefined);
    if (info === undefined) continue;
    if (!info.isFile()) return `'${candidate}' is not a file`;
    const [realRoot, real] = await Promise.all([realpath(root), realpath(candidate)]);
    if (!inside(realRoot, real)) return `'${candidate}' leaves ${root} through a symlink (to '${real}')`;
    return { path: real, size: info.size };
  }
  if (tried.length === 0) return `is an absolute path outside the workflow's and the job file's folders (${[...new Set(roots)].join(", ")})`;
  return `no such file (looked for ${tried.map((p) => `'${p}'`).join(" and ")})`;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}
