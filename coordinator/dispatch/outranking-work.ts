import type { Store } from "../store/store.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { JobRow } from "../store/jobs-table.ts";

/**
 * Why this file exists: lost work goes first (lost-work-first.ts) only among
 * jobs of its own priority or lower. A lost chunk placed on an agent's own
 * subject is taken before the pool's next message, so placed there while a
 * higher-priority job's chunks wait for that agent, it would start before
 * them: the priority rule of the pass (scheduling/priority-gate.ts) did not
 * reach it. Here, for one placement round, the jobs above a priority whose
 * chunks still wait for an agent (pending, or queued in the pool and not
 * claimed), and whether a given agent may run one of them: such an agent is
 * not given the lower lost chunk; it goes first once those chunks are taken.
 * A job held by its window (not dispatched yet) does not count; a job's
 * chunks placed on an agent's own subject are that agent's already and do
 * not count either (a chunk placed behind them waits its turn there).
 */
export class OutrankingWork {
  /** Waiting jobs above each priority asked about, read once per round. */
  private readonly above = new Map<number, JobRow[]>();

  constructor(
    private readonly store: Store,
    private readonly now: number,
    /** Why the agent may not run the job's chunks, or null (ClaimService.ineligible). */
    private readonly ineligible: (agent: AgentRow, job: JobRow) => string | null,
    /** Whether the job is held by its window at `now`; none: no job is held. */
    private readonly held?: (job: JobRow, now: number) => boolean,
  ) {}

  /** Whether a job above `priority` has chunks waiting that `agent` may run. */
  outranks(agent: AgentRow, priority: number): boolean {
    return this.waitingAbove(priority).some((job) => this.ineligible(agent, job) === null);
  }

  private waitingAbove(priority: number): JobRow[] {
    let jobs = this.above.get(priority);
    if (jobs === undefined) {
      const ids = this.store.db
        .prepare(
          `SELECT j.id FROM jobs j WHERE j.state IN ('queued', 'running') AND j.priority > ? AND EXISTS (
             SELECT 1 FROM chunks c WHERE c.job_id = j.id AND (c.state = 'pending' OR (c.state = 'queued' AND c.placed_agent_id IS NULL)))`,
        )
        .all(priority) as Array<{ id: string }>;
      jobs = ids.map((r) => this.store.jobs.get(r.id)).filter((j): j is JobRow => j !== undefined && !(this.held?.(j, this.now) ?? false));
      this.above.set(priority, jobs);
    }
    return jobs;
  }
}
