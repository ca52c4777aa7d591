import { basename, join } from "node:path";
import type { BlenderWorkStep } from "../../../shared/steps/work-step.ts";

/**
 * The command line of one Blender chunk: `blender -b --factory-startup SCENE
 * --python-exit-code 1 --python-expr PRELUDE -s FIRST -e LAST -a`. Blender
 * reads its arguments in order, so the prelude runs after the scene is loaded
 * and before the frames render. The prelude applies the step's overrides,
 * turns denoising off (the farm's frames must not depend on whether an
 * agent's Blender has OpenImageDenoise), and sends every frame as a PNG (or
 * an OpenEXR with the scene's own EXR codec and depth, `format: exr`) into
 * the attempt's own folder. A watchdog thread ends Blender when its parent
 * (the agent) is gone, so an agent killed outright leaves no render behind
 * (Blender releases Python's lock while it renders, so the thread runs).
 * Pure: tested without Blender.
 */

/** Blender's names for the job file's engines. */
const ENGINES: Record<NonNullable<BlenderWorkStep["engine"]>, string> = {
  cycles: "CYCLES",
  eevee: "BLENDER_EEVEE",
  workbench: "BLENDER_WORKBENCH",
};

const FRAME_FILE = /^frame_(-?\d+)\.(png|exr)$/;

/** Blender replaces the `#` run with the zero-padded frame number. */
export function outputPattern(workDir: string): string {
  return join(workDir, "frame_#######");
}

/** The frame number in a file name Blender wrote from outputPattern, or null. */
export function frameOfOutput(path: string): number | null {
  const match = FRAME_FILE.exec(basename(path));
  return match === null ? null : Number(match[1]);
}

/** Python run inside Blender after the scene loads. Values travel as one JSON string, never as code. */
export function blenderPrelude(step: BlenderWorkStep, workDir: string): string {
  const settings = {
    engine: step.engine === null ? null : ENGINES[step.engine],
    samples: step.samples,
    resolution: step.resolution,
    percentage: step.percentage,
    output: outputPattern(workDir),
    format: step.format === "exr" ? "OPEN_EXR" : "PNG",
  };
  return [
    "import bpy, json, os, threading, time",
    "def _nightshift_watch(parent=os.getppid()):",
    "    while os.getppid() == parent: time.sleep(0.25)",
    "    os._exit(70)",
    "threading.Thread(target=_nightshift_watch, daemon=True).start()",
    `o = json.loads(${JSON.stringify(JSON.stringify(settings))})`,
    "s = bpy.context.scene",
    "r = s.render",
    "if o['engine'] is not None: r.engine = o['engine']",
    "if o['samples'] is not None and r.engine == 'CYCLES': s.cycles.samples = o['samples']",
    "if o['samples'] is not None and r.engine.startswith('BLENDER_EEVEE'): s.eevee.taa_render_samples = o['samples']",
    "if o['resolution'] is not None: r.resolution_x, r.resolution_y = o['resolution']['width'], o['resolution']['height']",
    "if o['percentage'] is not None: r.resolution_percentage = o['percentage']",
    "if hasattr(s, 'cycles'): s.cycles.use_denoising = False",
    "s.frame_step = 1",
    "r.use_multiview = False",
    "r.use_overwrite = True",
    "r.use_placeholder = False",
    "r.use_file_extension = True",
    "r.image_settings.file_format = o['format']",
    "r.filepath = o['output']",
  ].join("\n");
}

/** Arguments for rendering frames first..last of `scenePath` (absolute, so never read as an option). */
export function blenderArgs(scenePath: string, prelude: string, first: number, last: number): string[] {
  return [
    "-b",
    "--factory-startup",
    scenePath,
    "--python-exit-code",
    "1",
    "--python-expr",
    prelude,
    "-s",
    String(first),
    "-e",
    String(last),
    "-a",
  ];
}
