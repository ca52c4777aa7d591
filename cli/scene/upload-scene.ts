import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { BadInputError, MissingDependencyError } from "../../shared/errors.ts";
import { findOnPath } from "../../shared/media/ffmpeg-binaries.ts";
import type { Control } from "../control-client.ts";
import { uploadAssets } from "../upload-assets.ts";
import { sceneReferences, SCENE_SCAN_TIMEOUT_MS } from "./scene-references.ts";
import { sceneTreeFiles, type LocalSceneTree } from "./scene-tree-files.ts";

/**
 * `nightshift submit` of a Blender job for a farm without a shared mount:
 * the scene (relative to the job file, or absolute) and every file it
 * references become a tree, uploaded to the coordinator's asset store before
 * the job is sent; the job then names the scene by its path in the tree.
 * Files the store already holds (same sha256 and size) are not sent again.
 */

export interface SceneUploadOptions {
  /** Blender to ask for the scene's files; default `blender` on PATH. */
  blender?: string;
  timeoutMs?: number;
  /** Told what happened (absolute paths made relative, files sent). */
  say?: (line: string) => void;
}

export interface PreparedScene {
  /** The job spec with the blender step's scene replaced by its path in the tree. */
  raw: unknown;
  tree: LocalSceneTree;
  /** Removes the rewritten copy of the scene, if one was made. */
  cleanup(): Promise<void>;
}

type RawSpec = { steps?: unknown };
type RawStep = { kind?: unknown; scene?: unknown };

/** The tree for the job's blender step, or null when the job has none. */
export async function prepareScene(raw: unknown, jobFile: string, opts: SceneUploadOptions = {}): Promise<PreparedScene | null> {
  const steps = (raw as RawSpec).steps;
  if (!Array.isArray(steps)) return null;
  const index = steps.findIndex((s: RawStep) => s.kind === "blender");
  const step = steps[index] as RawStep | undefined;
  if (step === undefined || typeof step.scene !== "string") return null;
  const field = `steps[${index}].scene`;
  const scenePath = resolve(dirname(resolve(jobFile)), step.scene);
  const info = await stat(scenePath).catch(() => undefined);
  if (!info?.isFile()) throw new BadInputError(`${field}: cannot read '${scenePath}': no such file`, { field });
  const blender = opts.blender ?? findOnPath("blender");
  if (blender === null) throw new MissingDependencyError("Blender is needed to find the files a scene references", "install Blender or pass --blender PATH (or --shared-scene when the scene is on the farm's shared root)");
  const temp = await mkdtemp(join(tmpdir(), "nightshift-scene-"));
  const cleanup = (): Promise<void> => rm(temp, { recursive: true, force: true });
  try {
    const copy = join(temp, "scene.blend");
    const refs = await sceneReferences(blender, scenePath, copy, opts.timeoutMs ?? SCENE_SCAN_TIMEOUT_MS);
    if (refs.leftAbsolute.length > 0) {
      throw new BadInputError(`${field}: Blender cannot make these paths relative to the scene (another drive?): ${refs.leftAbsolute.join(", ")}; move the files next to the scene`, { field });
    }
    if (refs.madeRelative.length > 0) opts.say?.(`scene: ${refs.madeRelative.length} absolute path(s) made relative in the uploaded copy: ${refs.madeRelative.join(", ")}`);
    const tree = await sceneTreeFiles(scenePath, refs, refs.madeRelative.length > 0 ? copy : scenePath);
    const rewritten = { ...(raw as object), steps: steps.map((s: unknown, i) => (i === index ? { ...(s as object), scene: tree.scene } : s)) };
    return { raw: rewritten, tree, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Sends the scene's files the store lacks; returns how many and how many bytes. */
export function uploadSceneTree(control: Control, tree: LocalSceneTree): Promise<{ files: number; bytes: number }> {
  return uploadAssets(control, tree.files);
}
