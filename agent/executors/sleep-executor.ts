import { setTimeout as sleep } from "node:timers/promises";
import type { EncodedFrame, Executor, ExecutorTask } from "./executor.ts";

/**
 * How the sleep executor times a chunk's frames:
 * - "absolute" (default): a simulated card given the whole chunk at its start
 *   and rendering its frames back to back at its own pace, whatever the
 *   agent's event loop does. Frame i (from 0) is ready at chunk start +
 *   (i + 1) x frame time; the agent sees it only when its loop next runs, so
 *   the agent's own lateness still counts, but it no longer lengthens the
 *   card's work. A frame already due when the agent asks comes at once.
 * - "per-frame": each frame waits one frame time from when the agent asked
 *   for it (the executor before the thirteenth round), so a late timer or a
 *   late consumer adds to the chunk's work itself.
 */
export type SleepClock = "absolute" | "per-frame";

/**
 * TEST AND BENCHMARK EXECUTOR: it renders nothing. Each frame takes
 * `msPerFrame / speed` milliseconds (timed as `clock` says) and yields a tiny
 * placeholder payload (not an image), so that benchmarks and scheduling tests
 * measure the farm's orchestration (dispatch, claims, uploads, commits) with
 * a controlled amount of "work" per frame and agents of controlled relative
 * speed. Never used by a real agent: only through AgentOptions.executorFactory.
 */
export interface SleepExecutorOptions {
  /** Milliseconds one frame takes at speed 1; 0 yields at once. */
  msPerFrame: number;
  /** Relative speed of this agent's "card": 2 is twice as fast, 0.25 four times slower. */
  speed: number;
  /** How frames are timed; default "absolute" (SleepClock). */
  clock?: SleepClock;
  /** Called when a task starts, with the wall-clock time in ms (performance.timeOrigin based, sub-ms). */
  onStart?: (task: ExecutorTask, atMs: number) => void;
}

export class SleepExecutor implements Executor {
  readonly kind = "sleep";

  constructor(private readonly opts: SleepExecutorOptions) {
    if (!(opts.speed > 0) || !(opts.msPerFrame >= 0)) throw new Error(`sleep executor: speed must be > 0 and msPerFrame >= 0 (got ${opts.speed}, ${opts.msPerFrame})`);
  }

  async load(): Promise<void> {}

  async *run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    const startMs = performance.now();
    this.opts.onStart?.(task, performance.timeOrigin + startMs);
    const ms = this.opts.msPerFrame / this.opts.speed;
    const absolute = (this.opts.clock ?? "absolute") === "absolute";
    let made = 0;
    for (const index of task.frames) {
      task.signal.throwIfAborted();
      const wait = absolute ? startMs + ++made * ms - performance.now() : ms;
      if (wait > 0) await sleep(wait, undefined, { signal: task.signal });
      task.onBusy?.(ms / 1000);
      yield { index, data: placeholder(task.jobId, index), format: "png" };
    }
  }

  async close(): Promise<void> {}
}

/** 32 bytes that differ per job and frame (so the sink's checksums are real), clearly not an image. */
function placeholder(jobId: string, index: number): Uint8Array {
  return new TextEncoder().encode(`sleep-executor ${jobId.slice(-8)} ${String(index).padStart(6, "0")}`.padEnd(40).slice(0, 40));
}
