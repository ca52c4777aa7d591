import type { AssetRef } from "../../shared/assets/asset-ref.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Store } from "../store/store.ts";
import type { AssetGcConfig } from "../config/asset-gc-config.ts";
import { assetReferences } from "./asset-references.ts";
import type { AssetStore } from "./asset-store.ts";

export interface AssetGcReport {
  dryRun: boolean;
  /** Removed (or, dry run, that would be). */
  removed: AssetRef[];
  removedBytes: number;
  /** Kept because a model, an active job or a job within its retention names them. */
  keptInUse: number;
  /** Kept, named by nothing, but uploaded or claimed within the upload grace (a submit may be about to name them). */
  keptRecent: number;
  keptBytes: number;
}

/**
 * Removes the blobs of the coordinator's asset store that nothing needs any
 * more (asset-references.ts): `nightshift assets gc [--dry-run]`, and every
 * `intervalMs` on its own. A blob is removed only when no model, no job that
 * can still run a chunk and no job within its retention names it, and it
 * was not uploaded or claimed within the upload grace.
 *
 * Why a submit uploading right now never loses a file: its uploads and the
 * MissingAssets answer set the blobs' mtime to now, and the submit's tree
 * check claims them again just before the job row is written, so for the
 * grace they are not candidates; and the collection itself (read the job
 * rows, stat, unlink) runs synchronously, in one turn of the event loop, so
 * no submit's check and insert can fall between its reading of the rows and
 * its unlinks. Uploads still being written live in `incoming/`, which the
 * collector never looks at.
 */
export class AssetCollector {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<Store, "models" | "jobs">,
    private readonly assets: AssetStore,
    private readonly clock: Clock,
    private readonly config: AssetGcConfig,
    private readonly log: Logger,
  ) {}

  /** Whether anything still needs the blob (a model, a job, its retention): `models rm` keeps such bytes. */
  inUse(sha256: string): boolean {
    return assetReferences(this.store, this.clock(), this.config.retentionMs).has(sha256);
  }

  collect(opts: { dryRun: boolean }): AssetGcReport {
    const now = this.clock();
    const uses = assetReferences(this.store, now, this.config.retentionMs);
    const cutoff = now - this.config.uploadGraceMs;
    const report: AssetGcReport = { dryRun: opts.dryRun, removed: [], removedBytes: 0, keptInUse: 0, keptRecent: 0, keptBytes: 0 };
    for (const blob of this.assets.entries()) {
      const ref = { sha256: blob.sha256, size: blob.size };
      const keep = uses.has(blob.sha256) ? "keptInUse" : blob.touchedAtMs >= cutoff ? "keptRecent" : undefined;
      if (keep === undefined && (opts.dryRun || this.assets.removeIfUntouchedSince(blob.sha256, cutoff))) {
        report.removed.push(ref);
        report.removedBytes += blob.size;
        continue;
      }
      report[keep ?? "keptRecent"] += 1;
      report.keptBytes += blob.size;
    }
    this.log.info({ dryRun: opts.dryRun, removed: report.removed.length, removedBytes: report.removedBytes, keptInUse: report.keptInUse, keptRecent: report.keptRecent }, "asset store collected");
    return report;
  }

  /** Collects every `intervalMs` (none when 0); stop() ends it. */
  start(): void {
    if (this.config.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      try {
        this.collect({ dryRun: false });
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "asset store collection failed");
      }
    }, this.config.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
