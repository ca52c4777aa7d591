import { existsSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../store/store.ts";
import { BadInputError } from "../../shared/errors.ts";
import { buildReport } from "./build-report.ts";
import type { FarmReport } from "./report-types.ts";
import type { CompiledTariff } from "../../shared/accounting/tariff.ts";

const NIGHT_MS = 24 * 3600 * 1000;

/** A report read straight from a (stopped or running) coordinator's data dir. */
export function offlineReport(dataDir: string, jobId: string | undefined, tariff: { compiled: CompiledTariff; label: string }, nowMs = Date.now()): FarmReport {
  const path = join(dataDir, "nightshift.db");
  if (!existsSync(path)) throw new BadInputError(`--data-dir: no nightshift store at ${path}`, { field: "dataDir" });
  const store = Store.open(path);
  try {
    let jobs = store.jobs.list();
    if (jobId) {
      jobs = jobs.filter((j) => j.id === jobId);
      if (jobs.length === 0) throw new BadInputError(`no job '${jobId}' in ${path}`, { field: "job" });
    }
    const ledger = jobId ? store.ledger.listByJob(jobId) : store.ledger.listSince(0);
    const from = jobId ? (jobs[0]?.createdAt ?? nowMs) : Math.min(nowMs - NIGHT_MS, ...jobs.map((j) => j.createdAt));
    return buildReport({ ledger, agents: store.agents.list(), jobs, tariff: tariff.compiled, tariffLabel: tariff.label, nowMs, fromMs: from });
  } finally {
    store.close();
  }
}
