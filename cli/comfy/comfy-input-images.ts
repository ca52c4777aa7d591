import { readFile, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import { sha256File } from "../../shared/model-manifest/model-file-hash.ts";
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
 * is an error naming the step, the node and the file. The step is rewritten
 * with `images: {node: {file, sha256, size}}`, what the coordinator checks
 * against its asset store.
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

export interface PreparedComfyImages {
  /** The job spec with each comfyui step's `images` by content. */
  raw: unknown;
  images: LocalComfyImage[];
}

type RawStep = { kind?: unknown; workflow?: unknown; bind?: { image?: { node?: unknown } }; images?: Record<string, unknown> };
type Workflow = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;

/** Finds, checks and hashes every comfyui step's input images; throws one BadInputError naming each problem. */
export async function prepareComfyImages(raw: unknown, jobFile: string): Promise<PreparedComfyImages> {
  const steps = (raw as { steps?: unknown }).steps;
  if (!Array.isArray(steps)) return { raw, images: [] };
  const jobDir = dirname(resolve(jobFile));
  const images: LocalComfyImage[] = [];
  const problems: Problem[] = [];
  const rewritten = [];
  for (const [i, step] of (steps as RawStep[]).entries()) {
    if (step?.kind !== "comfyui" || typeof step.workflow !== "string") {
      rewritten.push(step);
      continue;
    }
    const workflowPath = resolve(jobDir, step.workflow);
    const workflow = await readWorkflow(workflowPath);
    // An unreadable workflow is the coordinator's to report (it reads the same file); nothing to send here.
    if (workflow === null) {
      rewritten.push(step);
      continue;
    }
    const found = await stepImages(i, step, workflow, { workflowDir: dirname(workflowPath), jobDir }, problems);
    images.push(...found);
    const byContent: Record<string, unknown> = { ...(step.images ?? {}) };
    for (const f of found) byContent[f.node] = { file: f.file, sha256: f.sha256, size: f.size };
    rewritten.push(Object.keys(byContent).length > 0 ? { ...step, images: byContent } : step);
  }
  if (problems.length > 0) throw new BadInputError(problems.map((p) => `${p.field}: ${p.message}`).join("; "), { field: problems[0]?.field ?? "steps" });
  return { raw: { ...(raw as object), steps: rewritten }, images };
}

async function readWorkflow(path: string): Promise<Workflow | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Workflow) : null;
  } catch {
    return null;
  }
}

interface Problem {
  field: string;
  message: string;
}

interface Roots {
  workflowDir: string;
  jobDir: string;
}

async function stepImages(index: number, step: RawStep, workflow: Workflow, roots: Roots, problems: Problem[]): Promise<LocalComfyImage[]> {
  const bound = step.bind?.image?.node;
  const explicit = step.images ?? {};
  const out: LocalComfyImage[] = [];
  const add = async (node: string, field: string, file: string, where: string[]): Promise<void> => {
    const classType = String(workflow[node]?.class_type ?? "?");
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
    if (node === bound || node in explicit || typeof n?.class_type !== "string" || !INPUT_IMAGE_LOADERS.has(n.class_type)) continue;
    const value = n.inputs?.image;
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
