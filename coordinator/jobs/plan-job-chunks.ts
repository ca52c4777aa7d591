import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import type { FrameRange, JobSpec } from "../../shared/job-spec/index.ts";
import { planChunks, type Chunk } from "../planner/plan-chunks.ts";
import { parseShotList } from "../planner/shot-list.ts";
import { detectSceneCuts } from "../planner/detect-scenes.ts";
import { shotsFromCuts } from "../planner/scene-cuts.ts";
import type { Shot } from "../planner/shot.ts";
import type { AgentSpeed } from "../planner/chunk-size.ts";
import type { ShotStart } from "./job-paths.ts";

/**
 * The impure half of planning: reads the shot list or detects cuts with ffmpeg
 * when the spec asks for shots, then hands everything to the pure planner.
 */
export async function planJobChunks(spec: JobSpec, range: FrameRange, baseDir: string, agentSpeeds: readonly AgentSpeed[] = []): Promise<Chunk[]> {
  return (await planJobShots(spec, range, baseDir, agentSpeeds)).chunks;
}

/** The plan and, with shots, where each shot in the range starts and its number in the edit (`{shot}` in output paths). */
export async function planJobShots(
  spec: JobSpec,
  range: FrameRange,
  baseDir: string,
  agentSpeeds: readonly AgentSpeed[] = [],
): Promise<{ chunks: Chunk[]; shotStarts: ShotStart[] }> {
  let shots: Shot[] | undefined;
  let shotStarts: ShotStart[] = [];
  if (spec.chunking.mode === "shots") {
    const src = spec.chunking.source;
    if (src.kind === "list") {
      const file = isAbsolute(src.path) ? src.path : resolve(baseDir, src.path);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        throw new BadInputError(`chunking.shotList: cannot read '${file}': ${(err as Error).message}`, { field: "chunking.shotList", cause: err });
      }
      shots = parseShotList(text, { fps: spec.fps, source: file });
    } else {
      if (spec.input?.type !== "video") {
        throw new BadInputError("chunking.detect: scene detection needs a video input", { field: "chunking.detect" });
      }
      const video = isAbsolute(spec.input.path) ? spec.input.path : resolve(baseDir, spec.input.path);
      const cuts = await detectSceneCuts(video, { threshold: src.threshold });
      shots = shotsFromCuts(cuts, range.start, range.end);
    }
    shotStarts = shots.flatMap((s, index) => (s.end >= range.start && s.start <= range.end ? [{ start: Math.max(s.start, range.start), shot: index }] : []));
    shots = clipShots(shots, range);
  }
  const chunks = planChunks({
    frameStart: range.start,
    frameEnd: range.end,
    chunking: spec.chunking,
    ...(shots ? { shots } : {}),
    temporal: spec.temporal,
    agentSpeeds,
  });
  return { chunks, shotStarts };
}

/** Shots restricted to the job's frame range (a shot list usually covers the whole film). */
function clipShots(shots: readonly Shot[], range: FrameRange): Shot[] {
  return shots
    .filter((s) => s.end >= range.start && s.start <= range.end)
    .map((s) => ({ ...s, start: Math.max(s.start, range.start), end: Math.min(s.end, range.end) }));
}
