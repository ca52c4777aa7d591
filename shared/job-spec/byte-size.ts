/**
 * Human byte sizes: "8GiB", "512 MiB", "12GB", "1.5 GiB", "4096B". Binary
 * units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB)
 * powers of 1000; case does not matter. Bare "8G" is refused as ambiguous.
 */

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

export type ByteSizeParse = { ok: true; bytes: number } | { ok: false; problem: string };

export function parseByteSize(text: string): ByteSizeParse {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(text);
  const unit = match?.[2]?.toLowerCase();
  const multiplier = unit === undefined ? undefined : UNITS[unit];
  if (match === null || multiplier === undefined) {
    return { ok: false, problem: `'${text}' is not a size; write a number and a unit, like '8GiB' or '512MiB' (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)` };
  }
  const bytes = Math.round(Number(match[1]) * multiplier);
  if (!Number.isSafeInteger(bytes)) return { ok: false, problem: `'${text}' is too large` };
  return { ok: true, bytes };
}

/** "8.0 GiB": how placement messages name a memory size. */
export function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
