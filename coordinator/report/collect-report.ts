import type { CompiledTariff } from "../../shared/accounting/tariff.ts";
import type { Store } from "../store/store.ts";
import { buildReport } from "./build-report.ts";
import type { FarmReport } from "./report-types.ts";

const NIGHT_MS = 24 * 3600 * 1000;

/**
 * Reads what a report needs from the store and builds it. With a job id: that
 * job's chunks over its life. Without: "night" is the last 24 hours (jobs
 * created in it or with chunks committed in it, plus the farm's telemetry),
 * "all" is everything in the store (a finished demo's data dir).
 * The caller checks that the job exists.
 */
export function collectReport(
  store: Store,
  jobId: string | undefined,
  tariff: { compiled: CompiledTariff; label: string },
  nowMs: number,
  scope: "night" | "all",
): FarmReport {
  const all = store.jobs.list();
  const fpsByJob = new Map(all.map((j) => [j.id, j.fps]));
  const base = { agents: store.agents.list(), fpsByJob, tariff: tariff.compiled, tariffLabel: tariff.label, nowMs };
  if (jobId !== undefined) {
    const jobs = all.filter((j) => j.id === jobId);
    return buildReport({ ...base, ledger: store.ledger.listByJob(jobId), jobs, period: "job", fromMs: jobs[0]?.createdAt ?? nowMs });
  }
  // "all" reaches back to the store's first record, so the figures do not move as time passes.
  const telemetry = store.telemetry.list({ fromMs: scope === "night" ? nowMs - NIGHT_MS : 0, toMs: nowMs });
  const fromMs = scope === "night" ? nowMs - NIGHT_MS : Math.min(nowMs - NIGHT_MS, ...all.map((j) => j.createdAt), ...telemetry.slice(0, 1).map((b) => b.startMs));
  const ledger = store.ledger.listSince(fromMs);
  const worked = new Set(ledger.map((e) => e.jobId));
  const jobs = all.filter((j) => j.createdAt >= fromMs || worked.has(j.id));
  return buildReport({ ...base, ledger, jobs, telemetry, period: scope, fromMs });
}
