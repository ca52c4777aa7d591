import type { Shot } from "./shot.ts";

/**
 * Detected cuts to shots. A cut at frame c means a new shot starts at c.
 * Cuts outside (start, end] are ignored (a cut at `start` starts the first
 * shot anyway), duplicates and order do not matter. The shots cover
 * [start, end] exactly, in order. Pure.
 *
 *   shotsFromCuts([24, 36], 0, 47) -> [{0,23}, {24,35}, {36,47}]
 */
export function shotsFromCuts(cuts: readonly number[], start: number, end: number): Shot[] {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new Error(`scene cuts: ${start}..${end} is not a frame range`);
  }
  const inside = [...new Set(cuts)].filter((c) => Number.isSafeInteger(c) && c > start && c <= end).sort((a, b) => a - b);
  const shots: Shot[] = [];
  let first = start;
  for (const cut of inside) {
    shots.push({ start: first, end: cut - 1 });
    first = cut;
  }
  shots.push({ start: first, end });
  return shots;
}
