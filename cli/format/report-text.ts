import type { FarmReport } from "../../coordinator/report/report-types.ts";
import { formatBytes, formatWh, table } from "./format.ts";

export function reportText(r: FarmReport): string {
  const agents = table(
    ["agent", "frames", "chunks", "seconds", "frames/s", "energy", "source", "idle", "peak memory", `cost ${r.currency}`],
    r.agents.map((a) => [
      a.name, String(a.frames), String(a.chunks), a.seconds.toFixed(1), a.framesPerSecond.toFixed(2), formatWh(a.energyWh),
      a.energySource, formatWh(a.idleEnergyWh), `${formatBytes(a.peakMemoryBytes)} ${a.memoryKind}`, a.cost.toFixed(5),
    ]),
  );
  const jobs = table(
    ["job", "name", "state", "frames", "energy", "Wh/frame", "Wh/video-s", "idle share", `cost ${r.currency}`],
    r.jobs.map((j) => [
      j.id, j.name, j.state, String(j.frames), formatWh(j.energyWh), j.whPerFrame.toFixed(5), j.whPerVideoSecond.toFixed(4),
      `${(j.idleShare * 100).toFixed(1)}%`, j.cost.toFixed(5),
    ]),
  );
  const t = r.totals;
  return `${agents}\n\n${jobs}\n\ntotal: ${t.frames} frames, ${t.kWh.toFixed(6)} kWh, ${t.cost.toFixed(5)} ${r.currency} (${r.tariff})\n`;
}

function csvCell(v: string | number | null): string {
  const s = v === null ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV with a `kind` column: agent rows, then job rows. */
export function reportCsv(r: FarmReport): string {
  const header = ["kind", "id", "name", "frames", "seconds", "energy_wh", "energy_source", "idle_energy_wh", "peak_memory_bytes", "wh_per_frame", "cost", "currency"];
  const rows: Array<Array<string | number | null>> = [
    ...r.agents.map((a) => ["agent", a.id, a.name, a.frames, a.seconds, a.energyWh, a.energySource, a.idleEnergyWh, a.peakMemoryBytes, a.frames ? a.energyWh / a.frames : 0, a.cost, r.currency]),
    ...r.jobs.map((j) => ["job", j.id, j.name, j.frames, j.wallSeconds, j.energyWh, j.energySource, j.idleEnergyWh, j.peakMemoryBytes, j.whPerFrame, j.cost, r.currency]),
  ];
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
}
