import type { JobRow } from "../store/jobs-table.ts";
import type { JobNeeds } from "./scheduling-types.ts";

/**
 * A job's placement needs (farm-snapshot.ts jobNeeds: its spec's constraints
 * and steps, its models' memory and store sizes, its blocklist), computed
 * once and kept until something they are made of changes. Every dispatch
 * pass and every claim asks for them; computing them is 3-4 store reads.
 *
 * What can change them, and how each is noticed: the job's priority (part
 * of the key); a blocklist entry, a model added to or removed from the
 * store, the models directory read again (their revision counters, given by
 * `revisions`: any write bumps them). The spec, steps and model of a job
 * never change after submit.
 */
export class JobNeedsCache {
  private readonly byJob = new Map<string, { stamp: string; needs: JobNeeds }>();

  constructor(
    private readonly compute: (job: JobRow) => JobNeeds,
    /** The revision counters of what needs are made of, as one string; a different string: computed again. */
    private readonly revisions: () => string,
    private readonly maxJobs = 1024,
  ) {}

  of(job: JobRow): JobNeeds {
    const stamp = `${job.priority}|${this.revisions()}`;
    const hit = this.byJob.get(job.id);
    if (hit?.stamp === stamp) return hit.needs;
    const needs = this.compute(job);
    // Finished jobs are never asked for again; a bound keeps their entries from piling up.
    if (!hit && this.byJob.size >= this.maxJobs) this.byJob.clear();
    this.byJob.set(job.id, { stamp, needs });
    return needs;
  }
}
