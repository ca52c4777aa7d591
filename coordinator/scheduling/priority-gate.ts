import type { JobNeeds } from "./scheduling-types.ts";

/**
 * Why this file exists: JetStream hands out a queue's messages in the order
 * they were published, except that a message handed back with a delay (an
 * agent that became busy while its pull was open naks a pool message for
 * 100 ms, agent/nats/work-loop.ts) lets every later message past it, and an
 * agent takes work placed on its own subject beside the pool. So a
 * lower-priority chunk published while a higher-priority one still waits in
 * the pool can start first: under load, six chunks of a low job started
 * between the two chunks of a later high job on a one-agent farm.
 *
 * The rule: while a job that every agent may run (pool route) has chunks
 * waiting for an agent (pending, or queued in the pool and not claimed), no
 * chunk of a job of lower priority is published, to the pool or to an agent's
 * own subject, and no such job is cut at its end. Chunks handed out before
 * the higher-priority job came are left where they are. A job that only some
 * agents may run does not hold back the others' work: its waiting chunks wait
 * for agents that are full (placement gives them any room first).
 */

/**
 * The priority below which nothing is published this pass: the highest
 * priority of the jobs in `poolWaiting` that are still dispatchable, leaving
 * out `except` (jobs whose waiting chunks this pass cuts and places on
 * agents); -Infinity when there is none.
 */
export function priorityFloor(jobs: ReadonlyMap<string, JobNeeds>, poolWaiting: Iterable<string>, except: ReadonlySet<string> = new Set()): number {
  let floor = -Infinity;
  for (const jobId of poolWaiting) {
    const job = jobs.get(jobId);
    if (job && !except.has(jobId) && job.priority > floor) floor = job.priority;
  }
  return floor;
}
