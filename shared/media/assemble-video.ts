import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { requireBinary } from "./ffmpeg-binaries.ts";
import { runToCompletion } from "./ffmpeg-process.ts";

export { findFfmpeg } from "./ffmpeg-binaries.ts";

export interface AssembleOptions {
  framesDir: string;
  /** printf-style file pattern, e.g. "frame_%06d.png". */
  pattern: string;
  startNumber: number;
  /** Frames per second; a number or an exact fraction like "30000/1001". */
  fps: number | string;
  outPath: string;
  signal?: AbortSignal;
  /** x264 quality, lower is better; default 18 (visually lossless). */
  crf?: number;
}

export interface AssembledVideo {
  path: string;
  bytes: number;
}

/**
 * Encodes numbered frames into an H.264 MP4 (yuv420p, CRF 18). Odd sizes are
 * padded by one pixel, as yuv420p needs even dimensions. Writes to a hidden
 * temporary name beside the output and renames it into place, so the output
 * path never holds half a video. Failure is an FfmpegError with ffmpeg's
 * stderr tail; a missing ffmpeg is a MissingDependencyError.
 */
export async function assembleVideo(options: AssembleOptions): Promise<AssembledVideo> {
  const { framesDir, pattern, startNumber, fps, outPath, signal } = options;
  const ffmpeg = requireBinary("ffmpeg");
  const ext = extname(outPath) || ".mp4";
  const tmpPath = join(dirname(outPath), `.${basename(outPath, ext)}.partial-${process.pid}${ext}`);
  const args = [
    "-nostdin", "-y", "-v", "error",
    "-framerate", String(fps),
    "-start_number", String(startNumber),
    "-i", join(framesDir, pattern),
    "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", String(options.crf ?? 18),
    "-movflags", "+faststart",
    tmpPath,
  ];
  try {
    await runToCompletion(ffmpeg, args, `ffmpeg assemble ${outPath}`, signal);
    await rename(tmpPath, outPath);
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  }
  return { path: outPath, bytes: (await stat(outPath)).size };
}
