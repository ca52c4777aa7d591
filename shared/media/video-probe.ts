import { stat } from "node:fs/promises";
import { BadInputError } from "../errors.ts";
import { requireBinary } from "./ffmpeg-binaries.ts";
import { FfmpegError, runToCompletion } from "./ffmpeg-process.ts";

/** What a video holds: the first video stream's size, rate and frame count. */
export interface VideoInfo {
  path: string;
  width: number;
  height: number;
  frameCount: number;
  /** Frames per second as a number, and exactly as a fraction (e.g. 30000/1001). */
  fps: number;
  fpsFraction: string;
  codec: string;
}

interface ProbeStream {
  width?: number;
  height?: number;
  nb_frames?: string;
  nb_read_packets?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  codec_name?: string;
}

/**
 * Probes with ffprobe. The frame count is the container's count when it has
 * one, otherwise ffprobe counts the packets (reads the whole file, no decode).
 * Errors are BadInputError naming the file.
 */
export async function probeVideo(path: string, signal?: AbortSignal): Promise<VideoInfo> {
  try {
    if (!(await stat(path)).isFile()) throw new Error("not a file");
  } catch (err) {
    throw new BadInputError(`${path}: no such video file`, { field: path, cause: err });
  }
  const ffprobe = requireBinary("ffprobe");
  const entries = "stream=width,height,nb_frames,r_frame_rate,avg_frame_rate,codec_name";
  let stream = await probeStream(ffprobe, path, ["-show_entries", entries], signal);
  let frameCount = parseCount(stream.nb_frames);
  if (frameCount === null) {
    stream = { ...stream, ...(await probeStream(ffprobe, path, ["-count_packets", "-show_entries", "stream=nb_read_packets"], signal)) };
    frameCount = parseCount(stream.nb_read_packets);
  }
  const { width, height } = stream;
  if (width === undefined || height === undefined || width <= 0 || height <= 0) {
    throw new BadInputError(`${path}: video stream has no frame size`, { field: path });
  }
  if (frameCount === null || frameCount <= 0) {
    throw new BadInputError(`${path}: cannot tell how many frames the video has`, { field: path });
  }
  const fpsFraction = usableRate(stream.avg_frame_rate) ?? usableRate(stream.r_frame_rate) ?? "25/1";
  const [num, den] = fpsFraction.split("/").map(Number) as [number, number];
  return { path, width, height, frameCount, fps: num / den, fpsFraction, codec: stream.codec_name ?? "unknown" };
}

async function probeStream(ffprobe: string, path: string, extra: string[], signal?: AbortSignal): Promise<ProbeStream> {
  const args = ["-v", "error", "-select_streams", "v:0", ...extra, "-of", "json", path];
  let stdout: Buffer;
  try {
    ({ stdout } = await runToCompletion(ffprobe, args, `ffprobe ${path}`, signal));
  } catch (err) {
    if (err instanceof FfmpegError) throw new BadInputError(`${path}: not a readable video (${err.message})`, { field: path, cause: err });
    throw err;
  }
  const parsed = JSON.parse(stdout.toString("utf8")) as { streams?: ProbeStream[] };
  const first = parsed.streams?.[0];
  if (first === undefined) throw new BadInputError(`${path}: no video stream`, { field: path });
  return first;
}

function parseCount(value: string | undefined): number | null {
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}

function usableRate(rate: string | undefined): string | null {
  if (rate === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(rate);
  if (m === null || Number(m[1]) === 0 || Number(m[2]) === 0) return null;
  return rate;
}
