/** "0-7, 16-23" from inclusive ranges, merging neighbours. */
export function describeFrameRanges(ranges: ReadonlyArray<readonly [number, number]>): string {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = merged.at(-1);
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged.map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`)).join(", ");
}

/** Every frame index in the inclusive ranges. */
export function expandFrameRanges(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const out: number[] = [];
  for (const [s, e] of ranges) for (let i = s; i <= e; i++) out.push(i);
  return out;
}
