import { existsSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../store/store.ts";
import { BadInputError } from "../../shared/errors.ts";
import { collectReport } from "./collect-report.ts";
import type { FarmReport } from "./report-types.ts";
import type { CompiledTariff } from "../../shared/accounting/tariff.ts";

/** A report read straight from a (stopped or running) coordinator's data dir: one job, or everything it holds. */
export function offlineReport(dataDir: string, jobId: string | undefined, tariff: { compiled: CompiledTariff; label: string }, nowMs = Date.now()): FarmReport {
  const path = join(dataDir, "nightshift.db");
  if (!existsSync(path)) throw new BadInputError(`--data-dir: no nightshift store at ${path}`, { field: "dataDir" });
  const store = Store.open(path);
  try {
    if (jobId && !store.jobs.get(jobId)) throw new BadInputError(`no job '${jobId}' in ${path}`, { field: "job" });
    return collectReport(store, jobId || undefined, tariff, nowMs, "all");
  } finally {
    store.close();
  }
}
