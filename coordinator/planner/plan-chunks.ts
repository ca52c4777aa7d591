import { BadInputError } from "../../shared/errors.ts";
import { MAX_JOB_FRAMES } from "../../shared/job-spec/job-spec-limits.ts";
import type { Chunking } from "../../shared/job-spec/job-spec-types.ts";
import { chunkSizer, type AgentSpeed } from "./chunk-size.ts";
import { checkShotsOrdered, SHOT_LIST_FIELD, type Shot } from "./shot.ts";

/**
 * The planner: a job's frame range in, the chunk list out. Pure (no I/O, no
 * clock), so it is tested against exact expected lists.
 *
 * Rules:
 * - Chunks write every frame of [frameStart, frameEnd] exactly once, in order;
 *   the frames they write never overlap.
 * - Shots, when given, are hard boundaries in every mode: no chunk writes
 *   frames of two shots, and each chunk carries its shot's index (into the
 *   `shots` array). Shots may reach past the frame range, but every frame of
 *   the range must be in a shot.
 * - Temporal steps read `overlap` extra frames on each side (default
 *   floor(window / 2)): context = [frameStart - overlap, frameEnd + overlap],
 *   clipped to the chunk's shot (so context never crosses a cut and may use
 *   frames of the shot just outside the range) or, without shots, to the
 *   frame range. Without temporal steps the context is the written frames.
 * - Sizes come from chunk-size.ts (fixed, shots, adaptive).
 */

export interface Chunk {
  /** 0-based position in the plan. */
  index: number;
  /** First and last frame this chunk writes (inclusive). */
  frameStart: number;
  frameEnd: number;
  /** First and last frame this chunk reads (inclusive): the written frames plus temporal overlap. */
  contextStart: number;
  contextEnd: number;
  /** Index into the plan's shots; absent when the plan had no shots. */
  shot?: number;
}

export interface PlanInput {
  /** Inclusive frame range to render. */
  frameStart: number;
  frameEnd: number;
  chunking: Chunking;
  /** Inclusive, sorted, non-overlapping; must cover the frame range. Required for chunking mode "shots". */
  shots?: readonly Shot[];
  temporal?: { window: number; overlap?: number } | null;
  /** Measured speeds of the agents eligible for this job (adaptive mode). */
  agentSpeeds?: readonly AgentSpeed[];
}

interface Segment {
  writeStart: number;
  writeEnd: number;
  boundStart: number;
  boundEnd: number;
  shot?: number;
}

export function planChunks(input: PlanInput): Chunk[] {
  const { frameStart, frameEnd } = input;
  if (!Number.isSafeInteger(frameStart) || !Number.isSafeInteger(frameEnd) || frameStart < 0 || frameEnd < frameStart) {
    throw new Error(`planner: frame range ${frameStart}..${frameEnd} is not a range`);
  }
  if (frameEnd - frameStart + 1 > MAX_JOB_FRAMES) {
    throw new BadInputError(`frames: more than the ${MAX_JOB_FRAMES} frames one job may have`, { field: "frames" });
  }
  const overlap = contextOverlap(input.temporal);
  const nextSize = chunkSizer(input.chunking, input.agentSpeeds ?? []);
  const chunks: Chunk[] = [];
  for (const segment of segmentsOf(input)) {
    let first = segment.writeStart;
    while (first <= segment.writeEnd) {
      const size = nextSize(segment.writeEnd - first + 1, frameEnd - first + 1);
      if (!Number.isSafeInteger(size) || size < 1) throw new Error(`planner: chunk size ${size} at frame ${first}`);
      const last = Math.min(first + size - 1, segment.writeEnd);
      const chunk: Chunk = {
        index: chunks.length,
        frameStart: first,
        frameEnd: last,
        contextStart: Math.max(first - overlap, segment.boundStart),
        contextEnd: Math.min(last + overlap, segment.boundEnd),
      };
      if (segment.shot !== undefined) chunk.shot = segment.shot;
      chunks.push(chunk);
      first = last + 1;
    }
  }
  return chunks;
}

function contextOverlap(temporal: PlanInput["temporal"]): number {
  if (temporal === undefined || temporal === null) return 0;
  const overlap = temporal.overlap ?? Math.floor(temporal.window / 2);
  if (!Number.isSafeInteger(overlap) || overlap < 0) throw new Error(`planner: temporal overlap ${overlap} is not a frame count`);
  return overlap;
}

function segmentsOf(input: PlanInput): Segment[] {
  const { frameStart, frameEnd, shots } = input;
  if (shots === undefined) {
    if (input.chunking.mode === "shots") throw new Error("planner: chunking mode 'shots' needs the shots");
    return [{ writeStart: frameStart, writeEnd: frameEnd, boundStart: frameStart, boundEnd: frameEnd }];
  }
  checkShotsOrdered(shots);
  const segments: Segment[] = [];
  let next = frameStart;
  shots.forEach((shot, index) => {
    if (shot.end < frameStart || shot.start > frameEnd) return;
    if (shot.start > next) throw uncovered(next, shot.start - 1);
    const writeEnd = Math.min(shot.end, frameEnd);
    segments.push({ writeStart: next, writeEnd, boundStart: shot.start, boundEnd: shot.end, shot: index });
    next = writeEnd + 1;
  });
  if (next <= frameEnd) throw uncovered(next, frameEnd);
  return segments;
}

function uncovered(from: number, to: number): BadInputError {
  return new BadInputError(`${SHOT_LIST_FIELD}: frames ${from}..${to} are in no shot`, { field: SHOT_LIST_FIELD });
}
