import { createHash } from "node:crypto";
import { inflateSync } from "node:zlib";
import { decodePng } from "../media/png-codec.ts";
import { assertRgbFrame, type RgbFrame } from "../media/rgb-frame.ts";

/**
 * The pixel hash a frame's provenance names: sha256 of the decoded 8-bit RGB
 * samples, row-major, no padding (what shared/media/png-codec decodePng
 * gives). It holds across any lossless re-encoding of the PNG (other filters,
 * compression level, metadata chunks), which a file hash would not, and says
 * exactly which image was delivered.
 *
 * The sink computes it for every frame, so the common case (8-bit RGB or
 * RGBA, not interlaced: what every executor writes) is decoded here with
 * zlib and the five PNG row filters, about ten times faster than pngjs;
 * anything else goes through decodePng. Both give the same hash.
 */
export interface PixelHash {
  sha256: string;
  width: number;
  height: number;
}

export function pixelsOf(png: Uint8Array): PixelHash {
  const fast = fastRgbHash(png);
  if (fast !== undefined) return fast;
  const frame = decodePng(png);
  return { sha256: createHash("sha256").update(frame.data).digest("hex"), width: frame.width, height: frame.height };
}

/**
 * The same hash from pixels held in memory (what an agent has before it
 * encodes a frame): equal to pixelsOf(encodePng(frame)), at the cost of one
 * sha256 over the samples and no decode.
 */
export function rgbPixelsSha256(frame: RgbFrame): string {
  assertRgbFrame(frame);
  return createHash("sha256").update(frame.data).digest("hex");
}

/** Width and height from a PNG's IHDR (the first chunk), without decoding; undefined when there is none. */
export function pngDimensions(png: Uint8Array): { width: number; height: number } | undefined {
  if (!isPng(png) || png.length < 33) return undefined;
  if (String.fromCharCode(png[12]!, png[13]!, png[14]!, png[15]!) !== "IHDR") return undefined;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

function fastRgbHash(png: Uint8Array): PixelHash | undefined {
  if (!isPng(png)) return undefined;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  while (at + 12 <= png.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(png[at + 4]!, png[at + 5]!, png[at + 6]!, png[at + 7]!);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6)) return undefined;
      channels = colour === 2 ? 3 : 4;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
    at += 12 + length;
  }
  if (channels === 0 || width === 0 || height === 0) return undefined;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    return undefined; // let decodePng name the problem
  }
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) return undefined;
  const hash = createHash("sha256");
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  const rgb = new Uint8Array(width * 3);
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1);
    if (!unfilterRow(raw[base]!, raw.subarray(base + 1, base + 1 + stride), prev, cur, channels)) return undefined;
    if (channels === 3) hash.update(cur);
    else {
      for (let p = 0, s = 0; p < rgb.length; p += 3, s += 4) {
        rgb[p] = cur[s]!;
        rgb[p + 1] = cur[s + 1]!;
        rgb[p + 2] = cur[s + 2]!;
      }
      hash.update(rgb);
    }
    [prev, cur] = [cur, prev];
  }
  return { sha256: hash.digest("hex"), width, height };
}

/**
 * Undoes one row's PNG filter (spec 9.2) into `cur`, one loop per filter type
 * (the left neighbour is `channels` bytes back); false for an unknown type.
 * Uint8Array stores wrap modulo 256, as the spec's arithmetic does.
 */
function unfilterRow(filter: number, line: Uint8Array, prev: Uint8Array, cur: Uint8Array, channels: number): boolean {
  const n = line.length;
  switch (filter) {
    case 0:
      cur.set(line);
      return true;
    case 1:
      for (let i = 0; i < channels; i++) cur[i] = line[i]!;
      for (let i = channels; i < n; i++) cur[i] = line[i]! + cur[i - channels]!;
      return true;
    case 2:
      for (let i = 0; i < n; i++) cur[i] = line[i]! + prev[i]!;
      return true;
    case 3:
      for (let i = 0; i < channels; i++) cur[i] = line[i]! + (prev[i]! >> 1);
      for (let i = channels; i < n; i++) cur[i] = line[i]! + ((cur[i - channels]! + prev[i]!) >> 1);
      return true;
    case 4:
      for (let i = 0; i < channels; i++) cur[i] = line[i]! + prev[i]!;
      for (let i = channels; i < n; i++) {
        const a = cur[i - channels]!;
        const b = prev[i]!;
        const c = prev[i - channels]!;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        cur[i] = line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      return true;
    default:
      return false;
  }
}
