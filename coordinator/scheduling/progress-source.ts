import type { Store } from "../store/store.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { jobProgress, type JobProgress } from "./job-progress.ts";
import type { LedgerSpeeds } from "./ledger-speeds.ts";

/**
 * Live progress of a job for its view (`nightshift watch`): committed frames
 * per agent from the ledger, running attempts from the store, frames uploaded
 * so far from the agents' heartbeats, speeds from the ledger.
 */
export function progressSource(store: Store, live: () => ReadonlyMap<string, Heartbeat>, speeds: LedgerSpeeds, clock: Clock) {
  return (job: JobRow, framesDone: number, framesTotal: number): JobProgress => {
    const book = speeds.refresh(store);
    const hbs = live();
    const done = new Map<string, number>();
    const detail = new Map<string, string>();
    for (const hb of hbs.values()) {
      if (!hb.progress) continue;
      done.set(hb.progress.attemptId, hb.progress.framesDone);
      const f = hb.progress.inFrame;
      if (f) detail.set(hb.progress.attemptId, `frame ${f.frame}: ${f.detail || `${Math.round(f.fraction * 100)}%`}`);
    }
    const running = (
      store.db
        .prepare(
          `SELECT a.id AS attemptId, a.agent_id AS agentId, a.chunk_id AS chunkId, a.created_at AS startedAtMs,
             c.frame_end - c.frame_start + 1 AS frames, c.spec_attempt_id AS specAttemptId
           FROM attempts a JOIN chunks c ON c.id = a.chunk_id WHERE a.job_id = ? AND a.state = 'running'`,
        )
        .all(job.id) as Array<{ attemptId: string; agentId: string; chunkId: string; startedAtMs: number; frames: number; specAttemptId: string | null }>
    ).map((r) => ({ ...r, framesDone: done.get(r.attemptId) ?? null, speculative: r.specAttemptId === r.attemptId, frameDetail: detail.get(r.attemptId) ?? "" }));
    const ledger = store.db.prepare(`SELECT agent_id AS agentId, SUM(frames) AS frames FROM ledger WHERE job_id = ? GROUP BY agent_id`).all(job.id) as Array<{
      agentId: string;
      frames: number;
    }>;
    const terminal = job.state === "done" || job.state === "failed" || job.state === "cancelled";
    const p = jobProgress({
      nowMs: terminal ? (job.finishedAt ?? clock()) : clock(),
      framesTotal,
      framesDone,
      startedAtMs: job.startedAt,
      ledger,
      running,
      nameOf: (id) => store.agents.get(id)?.name ?? id,
      fpsOf: (id) => book.measured(id, job.modelSha256),
    });
    return terminal ? { ...p, etaSeconds: framesDone >= framesTotal ? 0 : -1 } : p;
  };
}
