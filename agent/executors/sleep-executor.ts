import { setTimeout as sleep } from "node:timers/promises";
import type { EncodedFrame, Executor, ExecutorTask } from "./executor.ts";

/**
 * TEST AND BENCHMARK EXECUTOR: it renders nothing. For every frame it waits
 * `msPerFrame / speed` milliseconds and yields a tiny placeholder payload
 * (not an image), so that benchmarks and scheduling tests measure the farm's
 * orchestration (dispatch, claims, uploads, commits) with a controlled amount
 * of "work" per frame and agents of controlled relative speed. Never used by
 * a real agent: only through AgentOptions.executorFactory.
 */
export interface SleepExecutorOptions {
  /** Milliseconds one frame takes at speed 1; 0 yields at once. */
  msPerFrame: number;
  /** Relative speed of this agent's "card": 2 is twice as fast, 0.25 four times slower. */
  speed: number;
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
    this.opts.onStart?.(task, performance.timeOrigin + performance.now());
    const ms = this.opts.msPerFrame / this.opts.speed;
    for (const index of task.frames) {
      task.signal.throwIfAborted();
      if (ms > 0) await sleep(ms, undefined, { signal: task.signal });
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
