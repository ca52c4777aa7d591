import pngjs from "pngjs";
import { BadInputError } from "../errors.ts";
import { assertRgbFrame, type RgbFrame } from "./rgb-frame.ts";

const { PNG } = pngjs;

/**
 * PNG encoding with fixed options so that the same pixels give the same bytes:
 * 8-bit RGB (colour type 2), no gamma chunk, one fixed filter (Sub: about
 * as small as adaptive filtering on graded footage, at under half the time),
 * fixed deflate settings. Bytes are identical for the same Node (zlib) build; a
 * different zlib may pack differently, so compare pixels across machines.
 *
 * Deflate level 6 (zlib's default). Level 2 was measured (sixth round,
 * README "The CPU a farm frame costs"): a quarter of the CPU at 320x180
 * and half at 1920x1080, for files 29 % and 60 % larger; not kept, since
 * every delivered frame would grow for a gain the farm did not show.
 * `node --import tsx bench/onnx-in-farm-png.bench.ts` measures the choices.
 */
const PACK_OPTIONS = {
  colorType: 2,
  inputColorType: 2,
  inputHasAlpha: false,
  bitDepth: 8,
  filterType: 1,
  deflateLevel: 6,
  deflateStrategy: 0,
} as const;

export function encodePng(frame: RgbFrame): Uint8Array {
  assertRgbFrame(frame);
  const image = { width: frame.width, height: frame.height, data: Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength) };
  const bytes = PNG.sync.write(image as unknown as InstanceType<typeof PNG>, PACK_OPTIONS);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes any PNG (palette, grey, 16-bit, alpha) to RGB8; alpha is dropped, not composited. */
export function decodePng(bytes: Uint8Array, source = "png"): RgbFrame {
  let png: { width: number; height: number; data: Buffer };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new BadInputError(`${source}: not a readable PNG (${(err as Error).message})`, { field: source, cause: err });
  }
  const { width, height, data: rgba } = png;
  const out = new Uint8Array(width * height * 3);
  for (let s = 0, d = 0; d < out.length; s += 4, d += 3) {
    out[d] = rgba[s]!;
    out[d + 1] = rgba[s + 1]!;
    out[d + 2] = rgba[s + 2]!;
  }
  return { width, height, data: out };
}
