import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { z } from "zod";
import { BadInputError } from "../../shared/errors.ts";

/**
 * What a .blend file needs besides itself, asked of Blender: the paths of
 * every image, library, sound, cache and font it references (not packed
 * ones), through `bpy.utils.blend_paths`, by running Blender on the scene
 * under a timeout. A scene that names files by absolute path gets a copy
 * with those paths made relative to the scene (`make_paths_relative`), saved
 * to `copyPath`, so that the agent, which rebuilds the tree elsewhere, finds
 * them; a path Blender cannot make relative (another drive) is refused.
 */

const run = promisify(execFile);
const MARKER = "NIGHTSHIFT_SCENE_FILES ";

// The output path arrives after `--` as data, never as code.
const SCRIPT = `
import bpy, json, sys
copy = sys.argv[sys.argv.index("--") + 1]
def paths(absolute):
    return list(bpy.utils.blend_paths(absolute=absolute, packed=False, local=False))
raw = paths(False)
absolute = paths(True)
made_relative = [p for p in raw if not p.startswith("//")]
if made_relative:
    bpy.ops.file.make_paths_relative()
    bpy.ops.wm.save_as_mainfile(filepath=copy, copy=True, relative_remap=False, compress=False)
left = [p for p in paths(False) if not p.startswith("//")]
print("${MARKER.trim()} " + json.dumps({"absolute": absolute, "madeRelative": made_relative, "leftAbsolute": left}), flush=True)
`;

const AnswerSchema = z.object({
  /** Every referenced path, absolute on this machine. */
  absolute: z.array(z.string()),
  /** The scene's paths that were absolute (the copy names them relative to the scene). */
  madeRelative: z.array(z.string()),
  /** Paths Blender could not make relative. */
  leftAbsolute: z.array(z.string()),
});

export type SceneReferences = z.infer<typeof AnswerSchema>;

export const SCENE_SCAN_TIMEOUT_MS = 120_000;

/** Runs Blender on `scene` and returns what it references; `copyPath` is written only when paths were made relative. */
export async function sceneReferences(blender: string, scene: string, copyPath: string, timeoutMs = SCENE_SCAN_TIMEOUT_MS): Promise<SceneReferences> {
  let stdout: string;
  try {
    ({ stdout } = await run(blender, ["-b", "--factory-startup", scene, "--python-exit-code", "1", "--python-expr", SCRIPT, "--", copyPath], {
      maxBuffer: 64 << 20,
      timeout: timeoutMs,
      killSignal: "SIGKILL",
    }));
  } catch (err) {
    const e = err as { killed?: boolean; stdout?: string; message: string };
    if (e.killed) throw new BadInputError(`scene '${scene}': Blender did not list its files within ${Math.round(timeoutMs / 1000)} s`, { field: "scene" });
    const line = (e.stdout ?? "").split("\n").find((l) => /^(Error|[A-Za-z]*Error):/.test(l));
    throw new BadInputError(`scene '${scene}': Blender could not list its files: ${line ?? e.message}`, { field: "scene", cause: err });
  }
  const line = stdout.split("\n").find((l) => l.startsWith(MARKER));
  if (line === undefined) {
    const error = stdout.split("\n").find((l) => l.startsWith("Error:"));
    throw new BadInputError(`scene '${scene}': Blender could not read it${error ? `: ${error}` : ""}`, { field: "scene" });
  }
  return AnswerSchema.parse(JSON.parse(line.slice(MARKER.length)));
}
