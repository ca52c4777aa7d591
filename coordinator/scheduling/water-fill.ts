/** An agent that can take a share of the remaining work from `freeAtMs` on, at `fps` frames per second. */
export interface Lane {
  agentId: string;
  freeAtMs: number;
  fps: number;
}

/**
 * Shares `frames` among the lanes so that they all finish at the same moment
 * T (water filling): lane i gets (T - freeAt_i) * fps_i frames, lanes free
 * only after T get nothing. Returns T and the real-valued shares.
 */
export function waterFill(lanes: readonly Lane[], frames: number): { finishMs: number; shares: Map<string, number> } {
  const sorted = lanes.filter((l) => l.fps > 0 && Number.isFinite(l.fps)).sort((a, b) => a.freeAtMs - b.freeAtMs);
  const shares = new Map<string, number>();
  if (sorted.length === 0 || frames <= 0) return { finishMs: sorted[0]?.freeAtMs ?? 0, shares };
  let rate = 0; // frames per ms of the lanes taken so far
  let weighted = 0; // sum of freeAt * rate
  let finishMs = 0;
  let k = 0;
  while (k < sorted.length) {
    const lane = sorted[k] as Lane;
    rate += lane.fps / 1000;
    weighted += lane.freeAtMs * (lane.fps / 1000);
    k++;
    finishMs = (frames + weighted) / rate;
    const next = sorted[k];
    if (!next || finishMs <= next.freeAtMs) break;
  }
  for (const lane of sorted.slice(0, k)) shares.set(lane.agentId, Math.max(0, (finishMs - lane.freeAtMs) * (lane.fps / 1000)));
  return { finishMs, shares };
}

/** Whole-frame shares that add up to `total` (largest remainder), in the order of `shares`. */
export function wholeShares(shares: ReadonlyMap<string, number>, total: number): Map<string, number> {
  const entries = [...shares];
  const floors = entries.map(([id, s]) => [id, Math.floor(s), s - Math.floor(s)] as const);
  let left = total - floors.reduce((n, [, f]) => n + f, 0);
  const byRemainder = [...floors].sort((a, b) => b[2] - a[2]);
  const out = new Map<string, number>(floors.map(([id, f]) => [id, f]));
  for (let i = 0; left > 0 && byRemainder.length > 0; i = (i + 1) % byRemainder.length, left--) {
    const id = (byRemainder[i] as (typeof byRemainder)[number])[0];
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/**
 * When each lane would finish if the chunks were handed out the way the pool
 * does it: in order, each to the lane that is free first.
 */
export function greedyFinish(lanes: readonly Lane[], chunkFrames: readonly number[], overheadMs: number): number {
  const free = lanes.filter((l) => l.fps > 0).map((l) => ({ t: l.freeAtMs, fps: l.fps }));
  if (free.length === 0) return Infinity;
  let last = -Infinity;
  for (const frames of chunkFrames) {
    let lane = free[0] as (typeof free)[number];
    for (const l of free) if (l.t < lane.t) lane = l;
    lane.t += (frames / lane.fps) * 1000 + overheadMs;
    last = Math.max(last, lane.t);
  }
  return last;
}
