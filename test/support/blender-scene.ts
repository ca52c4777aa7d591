import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { PNG } from "pngjs";
import { blenderCandidate } from "../../agent/executors/blender/blender-probe.ts";
import { sha256File } from "../../shared/model-manifest/model-file-hash.ts";

/**
 * A small Blender scene built by Blender's own Python, for tests and the
 * benchmark: a cube, a sphere and a second cube under a sun, a camera that
 * moves across them, Cycles on the CPU with a fixed seed, no denoising
 * (Debian's Blender has no OpenImageDenoise) and no adaptive sampling (a
 * frame takes the samples it is given, so a million samples stall it). Also the reference render (one
 * plain `blender -b scene.blend -a` run) and a pixel digest that ignores
 * the date stamps Blender writes into PNG metadata.
 */

const run = promisify(execFile);

export interface SceneOptions {
  frames: number;
  width?: number;
  height?: number;
  samples?: number;
  /** Frames that take a million samples (an animated sample count): a render that only a cancel ends. */
  stallFrames?: number[];
  /** An image texture on the first cube, written to this path (relative to the scene's folder) as a checker PNG. */
  texture?: string;
  /** Store the texture's path as absolute instead of Blender's `//` relative form. */
  absoluteTexture?: boolean;
}

export interface BuiltScene {
  /** The .blend file. */
  path: string;
  sha256: string;
  frames: number;
}

/** Why Blender tests must skip here, or false when Blender is installed. */
export function blenderMissing(): string | false {
  return blenderCandidate(undefined) === null ? "blender is not installed (Debian: apt-get install --no-install-recommends blender)" : false;
}

export function blenderBin(): string {
  const bin = blenderCandidate(undefined);
  if (bin === null) throw new Error(blenderMissing() || "blender not found");
  return bin;
}

const BUILD_SCENE = `
import bpy, bmesh, os, sys
out, frames, width, height, samples, stall, texture, absolute = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = int(samples)
scene.cycles.use_denoising = False
scene.cycles.use_adaptive_sampling = False
scene.cycles.seed = 7
scene.render.resolution_x = int(width)
scene.render.resolution_y = int(height)
scene.render.resolution_percentage = 100
scene.frame_start = 1
scene.frame_end = int(frames)
scene.render.image_settings.file_format = "PNG"
scene.render.filepath = "//render/frame_####"
world = bpy.data.worlds.new("world")
world.color = (0.2, 0.3, 0.4)
scene.world = world
for i, (loc, color) in enumerate([((0, 0, 0), (0.8, 0.2, 0.1, 1)), ((2, 0, 0), (0.1, 0.7, 0.2, 1)), ((-2, 1, 0), (0.2, 0.3, 0.9, 1))]):
    mesh = bpy.data.meshes.new(f"mesh{i}")
    bm = bmesh.new()
    if i == 1:
        bmesh.ops.create_uvsphere(bm, u_segments=16, v_segments=8, radius=0.6)
    else:
        bmesh.ops.create_cube(bm, size=1.0)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new(f"object{i}", mesh)
    obj.location = loc
    mat = bpy.data.materials.new(f"material{i}")
    mat.use_nodes = True
    mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = color
    mesh.materials.append(mat)
    scene.collection.objects.link(obj)
sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
sun.rotation_euler = (0.6, 0.2, 0.3)
scene.collection.objects.link(sun)
camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
scene.collection.objects.link(camera)
scene.camera = camera
camera.rotation_euler = (1.2, 0, 0)
camera.location = (-3, -7, 2.5)
camera.keyframe_insert("location", frame=1)
camera.location = (3, -7, 2.5)
camera.keyframe_insert("location", frame=int(frames))
stall = [int(f) for f in stall.split(",") if f]
if stall:
    for f in range(1, int(frames) + 1):
        scene.cycles.samples = 1000000 if f in stall else int(samples)
        scene.cycles.keyframe_insert("samples", frame=f)
    for curve in scene.animation_data.action.fcurves:
        for key in curve.keyframe_points:
            key.interpolation = "CONSTANT"
if texture:
    mat = bpy.data.materials["material0"]
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    image = nodes.new("ShaderNodeTexImage")
    image.image = bpy.data.images.load(texture)
    image.interpolation = "Closest"
    coords = nodes.new("ShaderNodeTexCoord")
    links.new(coords.outputs["Generated"], image.inputs["Vector"])
    links.new(image.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    image.image.filepath = texture if absolute == "1" else bpy.path.relpath(texture, start=os.path.dirname(out))
bpy.ops.wm.save_as_mainfile(filepath=out, relative_remap=False)
`;

/** Builds the scene as `dir/scene.blend` (frames 1..frames). */
export async function buildBlenderScene(dir: string, options: SceneOptions): Promise<BuiltScene> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, "scene.blend");
  const texture = options.texture === undefined ? "" : join(dir, options.texture);
  if (texture !== "") await writeChecker(texture);
  const args = [String(options.frames), String(options.width ?? 64), String(options.height ?? 36), String(options.samples ?? 8), (options.stallFrames ?? []).join(","), texture, options.absoluteTexture ? "1" : "0"];
  await run(blenderBin(), ["-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", BUILD_SCENE, "--", path, ...args], {
    maxBuffer: 16 << 20,
  });
  return { path, sha256: await sha256File(path), frames: options.frames };
}

/** A 16x16 yellow and purple checker of 4-pixel squares. */
async function writeChecker(path: string): Promise<void> {
  const png = new PNG({ width: 16, height: 16 });
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const on = ((x >> 2) + (y >> 2)) % 2 === 0;
      png.data.set(on ? [240, 200, 20, 255] : [90, 20, 160, 255], (y * 16 + x) * 4);
    }
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, PNG.sync.write(png));
}

/**
 * The reference: one plain `blender -b scene.blend -s FIRST -e LAST -a` (with
 * --factory-startup, so a developer's preferences cannot change it), into
 * the scene's own output (`//render/frame_####`). Returns frame -> pixel digest.
 */
export async function renderReference(scene: BuiltScene, first = 1, last = scene.frames): Promise<Map<number, string>> {
  await run(blenderBin(), ["-b", "--factory-startup", scene.path, "-s", String(first), "-e", String(last), "-a"], { maxBuffer: 64 << 20 });
  const dir = join(scene.path, "..", "render");
  const digests = new Map<number, string>();
  for (const name of readdirSync(dir)) {
    const frame = /^frame_(\d+)\.png$/.exec(name)?.[1];
    if (frame !== undefined && Number(frame) >= first && Number(frame) <= last) digests.set(Number(frame), pixelDigest(readFileSync(join(dir, name))));
  }
  return digests;
}

/** sha256 of a PNG's decoded pixels and size: equal for equal images whatever the metadata (Blender stamps dates). */
export function pixelDigest(png: Uint8Array): string {
  const image = PNG.sync.read(Buffer.from(png));
  return createHash("sha256").update(`${image.width}x${image.height}:`).update(image.data).digest("hex");
}
