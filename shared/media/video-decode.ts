import { spawn } from "node:child_process";
import { requireBinary } from "./ffmpeg-binaries.ts";
import { FfmpegError, TailBuffer, stopProcess, waitForExit } from "./ffmpeg-process.ts";
import type { RgbFrame } from "./rgb-frame.ts";

export { probeVideo, type VideoInfo } from "./video-probe.ts";

export interface FrameRange {
  /** First frame, 0-based. */
  start: number;
  /** Last frame, inclusive. */
  end: number;
  /** The video's frame size (from probeVideo). */
  width: number;
  height: number;
  signal?: AbortSignal;
}

/**
 * Decodes frames [start, end] of the first video stream with one ffmpeg
 * process, yielding them in order as RGB8. Frames are picked by decode order
 * number (`select=between(n,start,end)`), which is exact for any frame rate;
 * it decodes from the start of the file, so very late ranges cost more.
 * Backpressure: ffmpeg blocks on its pipe while the consumer is not pulling.
 * Stopping early (break, return, abort) kills ffmpeg.
 */
export async function* readVideoFrames(path: string, range: FrameRange): AsyncGenerator<RgbFrame> {
  const { start, end, width, height, signal } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
    throw new RangeError(`${path}: bad frame range ${start}..${end}`);
  }
  signal?.throwIfAborted();
  const ffmpeg = requireBinary("ffmpeg");
  const count = end - start + 1;
  const args = [
    "-nostdin", "-v", "error", "-noautorotate", "-i", path,
    "-map", "0:v:0", "-an", "-sn",
    "-vf", `select='between(n\\,${start}\\,${end})'`,
    // Every selected frame once, no rate fixing. -vsync (deprecated since 5.1 in
    // favour of -fps_mode) is the spelling ffmpeg 4.x also understands.
    "-vsync", "passthrough",
    "-frames:v", String(count),
    // Same RGB on every machine: bit-exact, accurately rounded colour conversion.
    "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact",
    "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
  ];
  const child = spawn(ffmpeg, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = waitForExit(child);
  exited.catch(() => undefined); // observed below; avoid an unhandled rejection on early exit
  const stderr = new TailBuffer();
  child.stderr.on("data", (c: Buffer) => stderr.push(c));
  const onAbort = (): void => stopProcess(child);
  signal?.addEventListener("abort", onAbort, { once: true });
  const frameBytes = width * height * 3;
  let produced = 0;
  let finished = false;
  try {
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          produced++;
          yield { width, height, data: frame };
          signal?.throwIfAborted();
          frame = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }
    const code = await exited;
    signal?.throwIfAborted();
    if (code !== 0) throw new FfmpegError(`${path}: ffmpeg decode failed (exit ${String(code)})`, stderr.toString(), code);
    if (produced !== count || filled !== 0) {
      throw new FfmpegError(`${path}: asked for frames ${start}..${end}, ffmpeg gave ${produced}`, stderr.toString(), code);
    }
    finished = true;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) {
      stopProcess(child);
      await exited.catch(() => undefined);
    }
  }
}
