import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { BadInputError } from "../errors.ts";
import { requireBinary } from "./ffmpeg-binaries.ts";
import { runToCompletion } from "./ffmpeg-process.ts";
import { decodePng } from "./png-codec.ts";
import type { RgbFrame } from "./rgb-frame.ts";

/** File extensions read as frames; PNG is decoded in-process, the rest by ffmpeg. */
export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr", ".dpx", ".tga"];

/**
 * The image files of a sequence directory, as absolute paths, in natural
 * order: digit runs compare as numbers, so frame_2 comes before frame_10.
 * Hidden files and other extensions are skipped.
 */
export async function listImageSequence(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a directory");
    entries = await readdir(dir);
  } catch (err) {
    throw new BadInputError(`${dir}: not a readable image sequence directory`, { field: dir, cause: err });
  }
  const images = entries.filter((e) => !e.startsWith(".") && IMAGE_EXTENSIONS.includes(extname(e).toLowerCase()));
  if (images.length === 0) {
    throw new BadInputError(`${dir}: no image files (${IMAGE_EXTENSIONS.join(" ")})`, { field: dir });
  }
  return images.sort(naturalCompare).map((e) => join(dir, e));
}

/** Natural order: digit runs by value (then by length, so 01 and 1 are stable), the rest by code unit. */
export function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x === y) continue;
    const xd = /^\d/.test(x);
    const yd = /^\d/.test(y);
    if (xd && yd) {
      const byValue = compareDigits(x, y);
      if (byValue !== 0) return byValue;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Compares digit strings by value without overflowing Number. */
function compareDigits(x: string, y: string): number {
  const a = x.replace(/^0+/, "");
  const b = y.replace(/^0+/, "");
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reads one image file as RGB8: PNG directly, anything else through ffmpeg. */
export async function readImageFile(path: string, signal?: AbortSignal): Promise<RgbFrame> {
  if (extname(path).toLowerCase() !== ".png") return decodeWithFfmpeg(path, signal);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new BadInputError(`${path}: cannot read the image`, { field: path, cause: err });
  }
  return decodePng(bytes, path);
}

/** ffmpeg converts the image to an RGB PNG on stdout, which carries the size along. */
async function decodeWithFfmpeg(path: string, signal?: AbortSignal): Promise<RgbFrame> {
  const ffmpeg = requireBinary("ffmpeg");
  const args = [
    "-nostdin", "-v", "error", "-i", path, "-frames:v", "1",
    "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact",
    "-pix_fmt", "rgb24", "-c:v", "png", "-f", "image2pipe", "pipe:1",
  ];
  const { stdout } = await runToCompletion(ffmpeg, args, `ffmpeg decode ${path}`, signal);
  return decodePng(stdout, path);
}
