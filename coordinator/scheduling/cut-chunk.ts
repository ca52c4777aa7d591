import type { UnstartedChunk } from "./scheduling-types.ts";

/**
 * The frames a piece of a chunk reads: the chunk's own context at the chunk's
 * ends, and `overlap` extra frames (clipped to the chunk's context, which is
 * already clipped at shot cuts) where the piece was cut from its neighbour.
 */
export function pieceContext(
  chunk: Pick<UnstartedChunk, "frameStart" | "frameEnd" | "contextStart" | "contextEnd">,
  frameStart: number,
  frameEnd: number,
  overlap: number,
): { contextStart: number; contextEnd: number } {
  return {
    contextStart: frameStart === chunk.frameStart ? chunk.contextStart : Math.max(chunk.contextStart, frameStart - overlap),
    contextEnd: frameEnd === chunk.frameEnd ? chunk.contextEnd : Math.min(chunk.contextEnd, frameEnd + overlap),
  };
}

/**
 * The order the end of a job hands chunks out in: chunks tried before (lost
 * work) first, then frame order. The first runs go to the agents free first
 * (end-game.ts), so lost work keeps the lead lost-work-first.ts gave it: the
 * soak saw a lost chunk re-cut onto the back of its agent's queue while an
 * idle agent took frames never tried, and run again only 5.6 s after its
 * agent's link was cut.
 */
export function cutOrder(chunks: readonly UnstartedChunk[]): UnstartedChunk[] {
  return [...chunks].sort((a, b) => Number(b.tried) - Number(a.tried) || a.frameStart - b.frameStart);
}

/**
 * Cuts the chunks, in cutOrder, into consecutive runs of `counts` frames
 * (one run per entry, in order). A run never crosses a chunk's end (so never
 * a shot cut): a run that reaches one continues as a second piece. The counts
 * must add up to the chunks' frames.
 */
export function carve<K>(
  chunks: readonly UnstartedChunk[],
  counts: ReadonlyArray<readonly [K, number]>,
  overlap: number,
): Array<{ key: K; sourceChunkId: string; frameStart: number; frameEnd: number; contextStart: number; contextEnd: number }> {
  const ordered = cutOrder(chunks);
  const out: Array<{ key: K; sourceChunkId: string; frameStart: number; frameEnd: number; contextStart: number; contextEnd: number }> = [];
  let ci = 0;
  let pos = ordered[0]?.frameStart ?? 0;
  for (const [key, count] of counts) {
    let left = count;
    while (left > 0) {
      const chunk = ordered[ci];
      if (!chunk) throw new Error(`carve: ${left} frames left over after the last chunk`);
      const take = Math.min(left, chunk.frameEnd - pos + 1);
      const end = pos + take - 1;
      out.push({ key, sourceChunkId: chunk.id, frameStart: pos, frameEnd: end, ...pieceContext(chunk, pos, end, overlap) });
      left -= take;
      if (end === chunk.frameEnd) {
        ci++;
        pos = ordered[ci]?.frameStart ?? 0;
      } else {
        pos = end + 1;
      }
    }
  }
  if (ci < ordered.length) throw new Error(`carve: frames of ${ordered.length - ci} chunk(s) were not handed out`);
  return out;
}

/**
 * Moves the boundary between consecutive runs onto a chunk's end when the
 * frames moved are no more than `fraction` of the run that gains them and
 * they move to the faster of the two agents, so that cutting leaves fewer
 * slivers of a frame or two (each costs a claim and a commit). Measured on
 * the gaining run, since the move lengthens that agent's time by that much:
 * on short runs (a 1 s chunk at 4 frames a second cut among 64 agents, four
 * frames each) not even one frame moves, as one more frame there is a
 * quarter more time on an agent that should finish with all the others.
 */
export function snapToChunkEdges<K>(
  chunks: readonly UnstartedChunk[],
  counts: ReadonlyArray<readonly [K, number]>,
  fpsOf: (key: K) => number,
  fraction: number,
): Array<[K, number]> {
  const ordered = cutOrder(chunks);
  const edges: number[] = [];
  let total = 0;
  for (const c of ordered) edges.push((total += c.frameEnd - c.frameStart + 1));
  const out = counts.map(([k, n]) => [k, n] as [K, number]);
  let cum = 0;
  for (let i = 0; i + 1 < out.length; i++) {
    const here = out[i] as [K, number];
    const next = out[i + 1] as [K, number];
    cum += here[1];
    const nearest = edges.reduce((best, e) => (Math.abs(e - cum) < Math.abs(best - cum) ? e : best), edges[0] ?? cum);
    const d = nearest - cum;
    const [gainer, loser] = d > 0 ? [here, next] : [next, here];
    // Frames only move to the faster of the two: a frame more on a slow card costs more time than it saves.
    if (d !== 0 && Math.abs(d) <= fraction * gainer[1] && fpsOf(gainer[0]) >= fpsOf(loser[0]) && here[1] + d > 0 && next[1] - d > 0) {
      here[1] += d;
      next[1] -= d;
      cum += d;
    }
  }
  return out;
}
