import { decodePng } from "../media/png-codec.ts";

/** How two renders of one frame differ, over their decoded 8-bit RGB samples. */
export interface PixelComparison {
  exact: boolean;
  /** Largest |a - b| over all samples (0-255); null when the sizes differ. */
  maxAbsDiff: number | null;
  /** Samples (one colour channel of one pixel) that differ. */
  differingSamples: number;
  samples: number;
  sizes: { a: string; b: string };
}

/** Decodes both PNGs (any colour type or depth decodePng takes) and compares them sample by sample. */
export function comparePixels(a: Uint8Array, b: Uint8Array): PixelComparison {
  const fa = decodePng(a);
  const fb = decodePng(b);
  const sizes = { a: `${fa.width}x${fa.height}`, b: `${fb.width}x${fb.height}` };
  if (sizes.a !== sizes.b) return { exact: false, maxAbsDiff: null, differingSamples: fa.data.length, samples: fa.data.length, sizes };
  let max = 0;
  let differing = 0;
  for (let i = 0; i < fa.data.length; i++) {
    const d = Math.abs(fa.data[i]! - fb.data[i]!);
    if (d > 0) {
      differing++;
      if (d > max) max = d;
    }
  }
  return { exact: differing === 0, maxAbsDiff: max, differingSamples: differing, samples: fa.data.length, sizes };
}
