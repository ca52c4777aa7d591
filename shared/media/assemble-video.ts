import { mkdtemp, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
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
  /**
   * The frames in order, when they do not follow one numbered pattern (frames
   * in per-shot folders): linked under numbered names in a hidden folder beside
   * the output for the encode, then removed. Overrides framesDir and pattern.
   */
  files?: readonly string[];
  /** Container metadata (MP4 udta tags), any size: passed to ffmpeg as an FFMETADATA file, not on the command line. */
  metadata?: Record<string, string>;
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
  if (options.files) return assembleFromList(options, options.files);
  const { framesDir, pattern, startNumber, fps, outPath, signal } = options;
  const ffmpeg = requireBinary("ffmpeg");
  const ext = extname(outPath) || ".mp4";
  const tmpPath = join(dirname(outPath), `.${basename(outPath, ext)}.partial-${process.pid}${ext}`);
  const metaPath = `${tmpPath}.ffmeta`;
  const meta = options.metadata === undefined ? [] : ["-f", "ffmetadata", "-i", metaPath, "-map_metadata", "1"];
  const args = [
    "-nostdin", "-y", "-v", "error",
    "-framerate", String(fps),
    "-start_number", String(startNumber),
    "-i", join(framesDir, pattern),
    ...meta,
    "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", String(options.crf ?? 18),
    "-movflags", options.metadata === undefined ? "+faststart" : "+faststart+use_metadata_tags",
    tmpPath,
  ];
  try {
    if (options.metadata !== undefined) await writeFile(metaPath, ffmetadata(options.metadata));
    await runToCompletion(ffmpeg, args, `ffmpeg assemble ${outPath}`, signal);
    await rename(tmpPath, outPath);
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  } finally {
    await rm(metaPath, { force: true });
  }
  return { path: outPath, bytes: (await stat(outPath)).size };
}

async function assembleFromList(options: AssembleOptions, files: readonly string[]): Promise<AssembledVideo> {
  const dir = await mkdtemp(join(dirname(options.outPath), ".assemble-"));
  try {
    let i = 0;
    for (const f of files) await symlink(f, join(dir, `f_${String(i++).padStart(8, "0")}.png`));
    const { files: _ignored, ...rest } = options;
    return await assembleVideo({ ...rest, framesDir: dir, pattern: "f_%08d.png", startNumber: 0 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** FFMETADATA1 text: '=', ';', '#', '\\' and newlines are escaped with a backslash. */
function ffmetadata(tags: Record<string, string>): string {
  const escape = (v: string): string => v.replace(/[=;#\\\n]/g, (c) => `\\${c}`);
  return `;FFMETADATA1\n${Object.entries(tags).map(([k, v]) => `${escape(k)}=${escape(v)}`).join("\n")}\n`;
}
