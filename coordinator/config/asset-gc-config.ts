/** The asset store's cleanup part of the coordinator config: how long finished jobs keep their uploaded scenes, and how often the store is collected. */
import { z } from "zod";

export const assetGcConfigFields = {
  /** A finished (done, failed, cancelled) job's scene files and models stay this long after it ended. */
  assetRetentionHours: z.number().min(0).max(24 * 3650).default(7 * 24),
  /** A blob named by nothing is kept this long after its last upload or MissingAssets answer (the window between upload and submit). */
  assetUploadGraceMinutes: z.number().min(1).max(7 * 24 * 60).default(60),
  /** How often the coordinator collects its asset store on its own; 0: only `nightshift assets gc`. */
  assetGcIntervalMinutes: z.number().min(0).max(7 * 24 * 60).default(60),
};

export interface AssetGcConfig {
  retentionMs: number;
  uploadGraceMs: number;
  intervalMs: number;
}

export function compileAssetGcConfig(c: { assetRetentionHours: number; assetUploadGraceMinutes: number; assetGcIntervalMinutes: number }): AssetGcConfig {
  return { retentionMs: c.assetRetentionHours * 3_600_000, uploadGraceMs: c.assetUploadGraceMinutes * 60_000, intervalMs: c.assetGcIntervalMinutes * 60_000 };
}
