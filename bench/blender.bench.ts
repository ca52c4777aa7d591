/**
 * What the farm keeps of Blender's own speed.
 *
 *   node --import tsx bench/blender.bench.ts [--frames 24] [--chunk 12] [--width 320 --height 180] [--samples 32] [--dir PARENT]
 *   (npm run bench:blender)
 *
 * Builds a scene with Blender's Python (test/support/blender-scene.ts), then
 * in one run: a bare `blender -b -a` of all frames; the same frames through
 * the Blender executor in chunks (one Blender process per chunk, as an agent
 * runs them, no farm around it); a `kind: blender` job through the whole farm
 * on loopback with one agent, then with two; and the bare render again. The
 * baseline is the mean of the two bare runs. Prints one JSON object; every
 * frame's pixels are compared with the bare render's.
 */
import { cpus, loadavg } from "node:os";
import { join, relative } from "node:path";
import { BadInputError } from "../shared/errors.ts";
import { blenderMissing, buildBlenderScene } from "../test/support/blender-scene.ts";
import { benchLogger, fileSystemType, intFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { bareBlenderRender, executorRender } from "./blender-bare-vs-executor.ts";
import { runBlenderFarm, type BlenderFarmResult } from "./blender-farm-run.ts";

async function blenderBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, {
    frames: { default: "24" },
    chunk: { default: "12" },
    width: { default: "320" },
    height: { default: "180" },
    samples: { default: "32" },
    dir: { default: "" },
  });
  const frames = intFlag("frames", f.frames, 1, 10_000);
  const chunk = intFlag("chunk", f.chunk, 1, 10_000);
  if (chunk > frames) throw new BadInputError(`--chunk: at most --frames (${frames}), got ${chunk}`, { field: "chunk" });
  const width = intFlag("width", f.width, 16, 3840);
  const height = intFlag("height", f.height, 16, 2160);
  const samples = intFlag("samples", f.samples, 1, 4096);
  const missing = blenderMissing();
  if (missing !== false) throw new BadInputError(`bench:blender needs Blender: ${missing}`, { field: "blender" });
  const log = benchLogger("bench-blender");

  return withTempDir("nightshift-bench-blender-", parentDirFlag(f.dir), async (dir) => {
    const loadBefore = loadavg()[0] ?? 0;
    const scene = await buildBlenderScene(join(dir, "shots"), { frames, width, height, samples });
    const before = await bareBlenderRender(scene);
    const sceneRelative = relative(dir, scene.path);
    const executor = await executorRender(scene, dir, sceneRelative, chunk, log);
    const farm = async (agents: number): Promise<BlenderFarmResult> =>
      runBlenderFarm({ dir: join(dir, `farm-${agents}`), sharedRoot: dir, scene: sceneRelative, frames, chunk, agents, log });
    const oneAgent = await farm(1);
    const twoAgents = await farm(2);
    const after = await bareBlenderRender(scene);
    const bareSeconds = (before.seconds + after.seconds) / 2;
    const bareDigests = before.digests;
    const same = (digests: Map<number, string>): boolean => bareDigests.size === frames && [...bareDigests].every(([frame, digest]) => digests.get(frame) === digest);
    const describeFarm = (r: BlenderFarmResult): Record<string, unknown> => ({
      chunks: r.chunks,
      chunksByAgent: r.chunksByAgent,
      jobWallSeconds: round(r.jobWallSeconds),
      submitToDoneSeconds: round(r.submitToDoneSeconds),
      framesPerSecond: round(frames / r.submitToDoneSeconds),
      ratio: round(bareSeconds / r.submitToDoneSeconds),
    });
    return {
      benchmark: "blender",
      frames,
      width,
      height,
      samples,
      engine: "cycles (CPU, denoising off)",
      bareSeconds: round(bareSeconds),
      bareFramesPerSecond: round(frames / bareSeconds),
      bareRuns: [round(before.seconds), round(after.seconds)],
      executor: {
        chunk,
        chunks: executor.chunks,
        seconds: round(executor.seconds),
        framesPerSecond: round(frames / executor.seconds),
        ratio: round(bareSeconds / executor.seconds),
        firstFrameSeconds: executor.firstFrameSeconds.map((s) => round(s)),
      },
      farmOneAgent: describeFarm(oneAgent),
      farmTwoAgents: { ...describeFarm(twoAgents), speedUpOverOneAgent: round(oneAgent.submitToDoneSeconds / twoAgents.submitToDoneSeconds) },
      sameFrames: same(executor.digests) && same(oneAgent.digests) && same(twoAgents.digests),
      definitions: {
        bareSeconds: "mean wall time of two `blender -b --factory-startup scene.blend -s 1 -e N -a` runs, one before and one after the others",
        "executor.ratio": "bare seconds / executor seconds: the share of bare Blender's speed left when the frames run as chunks through BlenderExecutor (one Blender process per chunk, frames read back as Blender saves them)",
        "executor.firstFrameSeconds": "per chunk, from the chunk's start to its first frame: Blender start, scene load and one frame",
        "farm*.ratio": "bare seconds / the farm's submit-to-done seconds (dispatch, claim, one Blender per chunk, gRPC upload, sha256, fsync, commit)",
        "farmTwoAgents.speedUpOverOneAgent": "one agent's submit-to-done / two agents'; both agents share this machine's CPUs",
        sameFrames: "every frame's decoded pixels, from the executor and from both farm runs, equal the bare render's",
      },
      cpus: cpus().length,
      loadAverage1m: { before: round(loadBefore, 1), after: round(loadavg()[0] ?? 0, 1) },
      tempFileSystem: fileSystemType(dir),
    };
  });
}

runBench(() => blenderBench(process.argv.slice(2)));
