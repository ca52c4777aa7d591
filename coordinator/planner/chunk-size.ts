import type { Chunking } from "../../shared/job-spec/job-spec-types.ts";

/**
 * How big the next chunk is. Called once per chunk with the frames left in
 * the current segment (a shot, or the whole range when there are no shots)
 * and the frames left in the whole job from the chunk's first frame. Always
 * returns 1..segmentLeft.
 *
 * - fixed: `size`, cut short at the segment's end.
 * - shots: the whole segment; with maxSize, the segment is split into the
 *   fewest pieces of at most maxSize, as even as possible (larger first):
 *   100 frames, maxSize 48 -> 34, 33, 33.
 * - adaptive (see adaptiveBase):
 *     want = clamp(ceil(jobLeft / (2 * agents)), minSize, base)
 *     take = min(want, segmentLeft)
 *   and if that would leave a runt of 1..minSize-1 frames in the segment, the
 *   runt is folded in: take = segmentLeft when segmentLeft <= maxSize, else
 *   segmentLeft - minSize (leaving exactly minSize for the next chunk).
 *   Early on want = base; in the last stretch of the job (fewer than
 *   2 * agents * base frames left) chunks shrink toward minSize so that the
 *   agents finish close together instead of one card running a full-size
 *   chunk alone at the end (guided self-scheduling).
 */
export type ChunkSizer = (segmentLeft: number, jobLeft: number) => number;

export interface AgentSpeed {
  agentId: string;
  /** Measured frames per second for this job's steps on this agent. */
  framesPerSecond: number;
}

/**
 * The adaptive base size: clamp(round(targetSeconds * slowest), minSize,
 * maxSize), from the slowest agent given, so that a chunk on the slowest
 * eligible card takes about targetSeconds and none runs far over. Speeds that
 * are not finite and positive are ignored; with none left, base = minSize.
 * The caller passes only agents eligible for the job.
 */
export function adaptiveBase(
  chunking: { targetSeconds: number; minSize: number; maxSize: number },
  speeds: readonly AgentSpeed[],
): { base: number; agents: number } {
  const valid = speeds.map((s) => s.framesPerSecond).filter((fps) => Number.isFinite(fps) && fps > 0);
  if (valid.length === 0) return { base: chunking.minSize, agents: 1 };
  const slowest = Math.min(...valid);
  return { base: clamp(Math.round(chunking.targetSeconds * slowest), chunking.minSize, chunking.maxSize), agents: valid.length };
}

export function chunkSizer(chunking: Chunking, speeds: readonly AgentSpeed[]): ChunkSizer {
  switch (chunking.mode) {
    case "fixed":
      return (segmentLeft) => Math.min(chunking.size, segmentLeft);
    case "shots": {
      const maxSize = chunking.maxSize;
      if (maxSize === null) return (segmentLeft) => segmentLeft;
      return (segmentLeft) => Math.ceil(segmentLeft / Math.ceil(segmentLeft / maxSize));
    }
    case "adaptive": {
      const { minSize, maxSize } = chunking;
      const { base, agents } = adaptiveBase(chunking, speeds);
      return (segmentLeft, jobLeft) => {
        const want = clamp(Math.ceil(jobLeft / (2 * agents)), minSize, base);
        const take = Math.min(want, segmentLeft);
        const runt = segmentLeft - take;
        if (runt > 0 && runt < minSize) return segmentLeft <= maxSize ? segmentLeft : segmentLeft - minSize;
        return take;
      };
    }
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
