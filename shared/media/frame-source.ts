import { BadInputError } from "../errors.ts";
import { generateFrame } from "./generated-frames.ts";
import { listImageSequence, readImageFile } from "./image-sequence.ts";
import type { RgbFrame } from "./rgb-frame.ts";
import { readVideoFrames } from "./video-decode.ts";
import { probeVideo, type VideoInfo } from "./video-probe.ts";

/** Where a job's frames come from. */
export type InputDescription =
  | { type: "generated"; width: number; height: number; frames: number; seed?: number }
  | { type: "image-sequence"; path: string }
  | { type: "video"; path: string };

export interface FrameSource {
  frameCount(): Promise<number>;
  /** Frame `index` (0-based) as RGB8. Reads are served one at a time, in call order. */
  read(index: number): Promise<RgbFrame>;
  /** Stops any decoder process. Safe to call twice. */
  close(): Promise<void>;
}

export function createFrameSource(input: InputDescription): FrameSource {
  switch (input.type) {
    case "generated":
      return generatedSource(input);
    case "image-sequence":
      return imageSequenceSource(input.path);
    case "video":
      return new VideoFrameSource(input.path);
  }
}

function checkIndex(index: number, count: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new BadInputError(`${what}: frame ${index} is outside 0..${count - 1}`, { field: "frame" });
  }
}

function generatedSource(input: { width: number; height: number; frames: number; seed?: number }): FrameSource {
  for (const field of ["width", "height", "frames"] as const) {
    const v = input[field];
    if (!Number.isInteger(v) || v <= 0) {
      throw new BadInputError(`input.${field} must be a whole number > 0, got ${String(v)}`, { field: `input.${field}` });
    }
  }
  const seed = input.seed ?? 0;
  return {
    frameCount: () => Promise.resolve(input.frames),
    read: (index) => {
      checkIndex(index, input.frames, "generated input");
      return Promise.resolve(generateFrame(index, input.width, input.height, seed));
    },
    close: () => Promise.resolve(),
  };
}

function imageSequenceSource(dir: string): FrameSource {
  let files: Promise<string[]> | undefined;
  const list = (): Promise<string[]> => (files ??= listImageSequence(dir));
  return {
    frameCount: async () => (await list()).length,
    read: async (index) => {
      const all = await list();
      checkIndex(index, all.length, dir);
      return readImageFile(all[index]!);
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Keeps one ffmpeg decoding forward from the last requested frame. Reads in
 * increasing order (the usual case: a chunk's frames) are served from that one
 * process; a read that goes backwards or jumps far ahead starts a new one.
 */
export class VideoFrameSource implements FrameSource {
  /** A forward jump up to this many frames is decoded through rather than restarting ffmpeg. */
  static readonly MAX_SKIP = 120;
  private info: Promise<VideoInfo> | undefined;
  private decoder: AsyncGenerator<RgbFrame> | undefined;
  /** Index of the frame the decoder yields next. */
  private nextIndex = 0;
  private last: { index: number; frame: RgbFrame } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private starts = 0;

  constructor(private readonly path: string) {}

  /** How many ffmpeg decoders this source has started (one for a forward read). */
  get decoderStarts(): number {
    return this.starts;
  }

  probe(): Promise<VideoInfo> {
    return (this.info ??= probeVideo(this.path));
  }

  async frameCount(): Promise<number> {
    return (await this.probe()).frameCount;
  }

  read(index: number): Promise<RgbFrame> {
    const result = this.queue.then(() => this.readNow(index));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.stopDecoder();
  }

  private async readNow(index: number): Promise<RgbFrame> {
    if (this.closed) throw new Error(`${this.path}: frame source is closed`);
    const info = await this.probe();
    checkIndex(index, info.frameCount, this.path);
    if (this.last?.index === index) return this.last.frame;
    if (this.decoder === undefined || index < this.nextIndex || index - this.nextIndex > VideoFrameSource.MAX_SKIP) {
      await this.stopDecoder();
      this.decoder = readVideoFrames(this.path, { start: index, end: info.frameCount - 1, width: info.width, height: info.height });
      this.nextIndex = index;
      this.starts++;
    }
    for (;;) {
      let step: IteratorResult<RgbFrame>;
      try {
        step = await this.decoder.next();
      } catch (err) {
        this.decoder = undefined;
        throw err;
      }
      if (step.done === true) {
        this.decoder = undefined;
        throw new Error(`${this.path}: video ended before frame ${index}`);
      }
      const at = this.nextIndex++;
      if (at === index) {
        this.last = { index, frame: step.value };
        return step.value;
      }
    }
  }

  private async stopDecoder(): Promise<void> {
    const decoder = this.decoder;
    this.decoder = undefined;
    if (decoder !== undefined) await decoder.return(undefined);
  }
}
