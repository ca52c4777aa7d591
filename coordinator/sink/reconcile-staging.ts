import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "../store/store.ts";
import type { Logger } from "../../shared/log.ts";
import { moveIntoPlace } from "./result-sink.ts";
import { STAGING_DIR, stagedFrameName, stagingDirFor } from "./staging.ts";

/**
 * Start-up repair after a crash. A staging dir whose attempt committed in the
 * store had its renames interrupted: finish them. Any other staging dir is an
 * upload that never committed: delete it. Afterwards the store and the output
 * root agree, except for committed attempts whose moves still fail (`stuck`),
 * which stay staged for the caller to retry.
 */
export function reconcileStaging(outputRoot: string, store: Store, log: Logger): { completed: number; discarded: number; stuck: string[] } {
  const root = join(outputRoot, STAGING_DIR);
  let completed = 0;
  let discarded = 0;
  const stuck: string[] = [];
  if (!existsSync(root)) return { completed, discarded, stuck };
  for (const attemptId of readdirSync(root)) {
    const dir = join(root, attemptId);
    const attempt = store.attempts.get(attemptId);
    if (attempt?.state === "committed") {
      try {
        completed += finishStagedAttempt(outputRoot, store, attemptId);
      } catch (err) {
        // Kept in staging, never deleted: the caller retries it (StagedCommitRetry) rather than refusing to start.
        log.error({ attemptId, err: (err as Error).message }, "committed frames still in staging: cannot move them into place");
        stuck.push(attemptId);
      }
      continue;
    }
    discarded++;
    rmSync(dir, { recursive: true, force: true });
  }
  if (completed || discarded) log.warn({ completed, discarded }, "staging reconciled after restart");
  return { completed, discarded, stuck };
}

/**
 * Moves a committed attempt's frames that are still staged into place and
 * removes its staging dir; returns how many were moved. Throws (keeping the
 * staging dir) when a move fails.
 */
export function finishStagedAttempt(outputRoot: string, store: Store, attemptId: string): number {
  const dir = stagingDirFor(outputRoot, attemptId);
  const attempt = store.attempts.get(attemptId);
  if (attempt?.state !== "committed") throw new Error(`attempt ${attemptId} is not committed`);
  const targets = store.frames
    .listByJob(attempt.jobId)
    .filter((f) => f.attemptId === attemptId)
    .map((f) => ({ from: join(dir, stagedFrameName(f.frame)), to: f.path }))
    .filter((t) => existsSync(t.from));
  moveIntoPlace(targets);
  rmSync(dir, { recursive: true, force: true });
  return targets.length;
}
