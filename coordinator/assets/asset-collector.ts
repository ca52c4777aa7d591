import type { AssetRef } from "../../shared/assets/asset-ref.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Store } from "../store/store.ts";
import type { AssetGcConfig } from "../config/asset-gc-config.ts";
import { assetReferences } from "./asset-references.ts";
import type { AssetStore } from "./asset-store.ts";
import { listStoredAssets, type StoredAsset } from "./asset-listing.ts";

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
 * grace they are not candidates; and the decision (read the job rows, stat
 * each candidate again, unlink) runs synchronously, in one turn of the event
 * loop, so no submit's check and insert can fall between its reading of the
 * rows and its unlinks. Only the listing of the store before it is
 * asynchronous: a blob listed as old but claimed since is seen fresh by the
 * second stat, and a job written since is in the rows. Uploads still being
 * written live in `incoming/`, which the collector never looks at.
 */
export class AssetCollector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<AssetGcReport> | undefined;

  constructor(
    private readonly store: Pick<Store, "models" | "jobs">,
    private readonly assets: AssetStore,
    private readonly clock: Clock,
    private readonly config: AssetGcConfig,
    private readonly log: Logger,
  ) {}

  /**
   * Whether a model or a job that can still run a chunk names the blob:
   * `models rm` keeps such bytes. An ended job within its retention does not
   * hold back an explicit removal (only the collector honours retention).
   */
  neededNow(sha256: string): boolean {
    return assetReferences(this.store, this.clock(), null).has(sha256);
  }

  /** Every blob in the store with what names it (`nightshift assets list`). */
  list(): StoredAsset[] {
    return listStoredAssets(this.store, this.assets);
  }

  /** One collection; a call while one runs waits for it and runs after. */
  async collect(opts: { dryRun: boolean }): Promise<AssetGcReport> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.collectOnce(opts);
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  private async collectOnce(opts: { dryRun: boolean }): Promise<AssetGcReport> {
    const blobs = await this.assets.entriesAsync();
    // From here to the end: synchronous (see the class comment).
    const now = this.clock();
    const uses = assetReferences(this.store, now, this.config.retentionMs);
    const cutoff = now - this.config.uploadGraceMs;
    const report: AssetGcReport = { dryRun: opts.dryRun, removed: [], removedBytes: 0, keptInUse: 0, keptRecent: 0, keptBytes: 0 };
    for (const blob of blobs) {
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
      this.collect({ dryRun: false }).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, "asset store collection failed"));
    }, this.config.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
