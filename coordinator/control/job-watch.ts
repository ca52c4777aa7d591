/**
 * The one place that follows a job until it ends: `nightshift watch` (through
 * the gRPC WatchJob stream) and the dashboard's live page both use it. It
 * sends a view whenever the job changes (the finisher's "changed" event, and
 * a 1 s tick for progress that moves without an event) and stops by itself
 * once the job reaches a terminal state.
 */
import type { EventEmitter } from "node:events";
import { TERMINAL_JOB_STATES, type JobState } from "../../shared/lifecycle/states.ts";

export interface JobWatchSource<V extends { state: string }> {
  /** The job's current view; throws (NotFoundError) for an unknown job. */
  view(jobId: string): V;
  /** Emits "changed" (jobId) on every job change (coordinator/jobs/job-finisher.ts). */
  readonly changes: EventEmitter;
}

export interface JobWatchHandlers<V> {
  /** A view that differs from the last one sent. */
  onView(view: V): void;
  /** The job reached a terminal state (after its last view), or the view failed. */
  onEnd(err?: Error): void;
}

export const isTerminalJobState = (state: string): boolean => TERMINAL_JOB_STATES.includes(state as JobState);

/** Starts watching; returns stop(), safe to call twice. onEnd is not called after stop(). */
export function watchJob<V extends { state: string }>(source: JobWatchSource<V>, jobId: string, h: JobWatchHandlers<V>, tickMs = 1000): () => void {
  let last = "";
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    source.changes.off("changed", onChange);
  };
  const send = (): void => {
    if (stopped) return;
    let v: V;
    try {
      v = source.view(jobId);
    } catch (err) {
      stop();
      h.onEnd(err as Error);
      return;
    }
    const key = JSON.stringify(v);
    if (key !== last) {
      last = key;
      h.onView(v);
    }
    if (isTerminalJobState(v.state)) {
      stop();
      h.onEnd();
    }
  };
  const onChange = (id: string): void => {
    if (id === jobId) send();
  };
  const timer = setInterval(send, tickMs);
  source.changes.on("changed", onChange);
  send();
  return stop;
}
