import type { RgbFrame } from "./rgb-frame.ts";

/**
 * Procedural test footage: a dusk gradient with drifting diagonal light bands,
 * three soft coloured discs bouncing around, and the frame index as a row of
 * binary squares in the bottom-left corner (so misordered frames are visible).
 * Integer maths only (Math.imul, integer division), so every machine produces
 * the same pixels for the same (index, width, height, seed).
 */

interface Disc {
  radius: number;
  /** Position along the bounce path at frame 0, and speed in pixels per frame. */
  phaseX: number;
  phaseY: number;
  speedX: number;
  speedY: number;
  colour: [number, number, number];
}

const PALETTES: [number, number, number][][] = [
  [[255, 196, 92], [236, 94, 110], [92, 214, 200]],
  [[250, 230, 140], [120, 170, 255], [255, 120, 70]],
  [[180, 250, 150], [255, 150, 200], [110, 200, 255]],
];

/** A deterministic 32-bit hash (mulberry32 step). */
export function hash32(value: number): number {
  let t = (value + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** 0..period..0, a bounce. */
function triangle(t: number, period: number): number {
  if (period <= 0) return 0;
  const m = ((t % (2 * period)) + 2 * period) % (2 * period);
  return m < period ? m : 2 * period - m;
}

function discs(width: number, height: number, seed: number): Disc[] {
  const palette = PALETTES[hash32(seed) % PALETTES.length]!;
  const base = Math.max(2, Math.floor(Math.min(width, height) / 7));
  return palette.map((colour, i) => {
    const h = hash32(seed * 7 + i + 1);
    const scale = Math.max(1, Math.floor(Math.min(width, height) / 90));
    return {
      radius: base + (h % (base + 1)),
      phaseX: (h >>> 4) % 4096,
      phaseY: (h >>> 12) % 4096,
      speedX: scale * (2 + ((h >>> 20) % 4)),
      speedY: scale * (1 + ((h >>> 24) % 3)),
      colour,
    };
  });
}

export function generateFrame(index: number, width: number, height: number, seed = 0): RgbFrame {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`frame index must be a whole number >= 0, got ${index}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`frame size must be whole numbers > 0, got ${width}x${height}`);
  }
  const data = new Uint8Array(width * height * 3);
  const top = [24 + (hash32(seed + 11) % 40), 22, 70 + (hash32(seed + 13) % 50)];
  const bottom = [250, 140 + (hash32(seed + 17) % 60), 90];
  const span = Math.max(1, height - 1);
  const band = Math.max(8, Math.floor((width + height) / 6));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const light = Math.floor(triangle(x + 2 * y + index * 3, band) * 40 / band);
      for (let c = 0; c < 3; c++) {
        const g = Math.floor((top[c]! * (span - y) + bottom[c]! * y) / span);
        data[o + c] = Math.min(255, g + light);
      }
    }
  }
  for (const disc of discs(width, height, seed)) drawDisc(data, width, height, disc, index);
  drawIndexBits(data, width, height, index);
  return { width, height, data };
}

function drawDisc(data: Uint8Array, width: number, height: number, disc: Disc, index: number): void {
  const r = disc.radius;
  const cx = r + triangle(disc.phaseX + index * disc.speedX, Math.max(0, width - 2 * r));
  const cy = r + triangle(disc.phaseY + index * disc.speedY, Math.max(0, height - 2 * r));
  const inner = (r - 2) * (r - 2);
  const outer = (r + 2) * (r + 2);
  const third = Math.floor(r / 3);
  const x0 = Math.max(0, cx - r - 2);
  const x1 = Math.min(width - 1, cx + r + 2);
  const y0 = Math.max(0, cy - r - 2);
  const y1 = Math.min(height - 1, cy + r + 2);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      if (d2 >= outer) continue;
      // Soft edge over 4 pixels; a lighter core towards the top-left.
      const alpha = d2 <= inner ? 230 : Math.floor(((outer - d2) * 230) / (outer - inner));
      const sx = x - cx + third;
      const sy = y - cy + third;
      const shine = Math.max(0, 48 - Math.floor(((sx * sx + sy * sy) * 48) / (r * r + 1)));
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const colour = Math.min(255, disc.colour[c]! + shine);
        data[o + c] = Math.floor((data[o + c]! * (255 - alpha) + colour * alpha + 127) / 255);
      }
    }
  }
}

/** 12 squares, most significant bit first: white = 1, dark = 0. */
function drawIndexBits(data: Uint8Array, width: number, height: number, index: number): void {
  const size = Math.max(2, Math.floor(Math.min(width, height) / 40));
  const y0 = height - 2 * size;
  if (y0 < 0 || size + Math.floor((12 * size * 3) / 2) > width) return;
  for (let bit = 0; bit < 12; bit++) {
    const on = (index >> (11 - bit)) & 1;
    const x0 = size + Math.floor((bit * size * 3) / 2);
    for (let y = y0; y < y0 + size; y++) {
      for (let x = x0; x < x0 + size; x++) {
        const o = (y * width + x) * 3;
        const v = on ? 240 : 30;
        data[o] = v;
        data[o + 1] = v;
        data[o + 2] = v;
      }
    }
  }
}
