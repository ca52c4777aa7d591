import { decodePng } from "../../shared/media/png-codec.ts";
import type { EncodedFrame, RgbFrame } from "../executors/executor.ts";

/**
 * Hands one step's output frames to the next step of a chain on the same
 * agent, as they are made: the next step's readFrame(i) waits for frame i.
 * Memory is bounded: the producer is paused while `capacity` frames wait
 * unread ahead of the reader, and frames more than `keepBehind` below the
 * last one asked for are dropped (a temporal step re-reads its window).
 */
export class FrameBus {
  private readonly frames = new Map<number, RgbFrame>();
  private readonly waiters = new Map<number, Array<{ resolve: (f: RgbFrame) => void; reject: (e: unknown) => void }>>();
  private failure: unknown = undefined;
  private finished = false;
  private highestAsked = -Infinity;
  private space: (() => void) | undefined;

  constructor(
    private readonly capacity: number,
    private readonly keepBehind: number,
  ) {}

  /** Drives `frames` into the bus until it ends or fails; never rejects (a failure is handed to the readers). */
  async pump(frames: AsyncIterable<EncodedFrame>, what: string): Promise<void> {
    try {
      for await (const f of frames) {
        const rgb = decodePng(f.data, `${what} frame ${f.index}`);
        this.frames.set(f.index, rgb);
        for (const w of this.waiters.get(f.index) ?? []) w.resolve(rgb);
        this.waiters.delete(f.index);
        while (this.ahead() >= this.capacity && this.failure === undefined) await new Promise<void>((r) => (this.space = r));
      }
      this.finished = true;
      this.failAll(new Error(`${what} ended without the frame asked for`));
    } catch (err) {
      this.fail(err);
    }
  }

  read(index: number): Promise<RgbFrame> {
    if (index > this.highestAsked) {
      this.highestAsked = index;
      for (const k of this.frames.keys()) if (k < index - this.keepBehind) this.frames.delete(k);
      this.space?.();
      this.space = undefined;
    }
    const have = this.frames.get(index);
    if (have) return Promise.resolve(have);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.finished) return Promise.reject(new Error(`frame ${index} was never made by the previous step`));
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(index) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(index, list);
    });
  }

  /** Stops the producer side: readers get `err`. */
  fail(err: unknown): void {
    this.failure = err ?? new Error("frame bus failed");
    this.failAll(this.failure);
    this.space?.();
  }

  private ahead(): number {
    let n = 0;
    for (const k of this.frames.keys()) if (k > this.highestAsked) n++;
    return n;
  }

  private failAll(err: unknown): void {
    for (const list of this.waiters.values()) for (const w of list) w.reject(err);
    this.waiters.clear();
  }
}
