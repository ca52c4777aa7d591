import type { FarmReport } from "../../coordinator/report/report-types.ts";
import { formatBytes, formatWh, table } from "./format.ts";

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const day = (ms: number): string => new Date(ms).toISOString().replace("T", " ").slice(0, 16);

function heading(r: FarmReport): string {
  const span = `${day(r.fromMs)} to ${day(r.toMs)} UTC`;
  if (r.period === "job") return `job report (${span})`;
  return r.period === "night" ? `night summary: the last 24 hours (${span})` : `everything in this store (${span})`;
}

export function reportText(r: FarmReport): string {
  const agents = table(
    ["agent", "frames", "chunks", "seconds", "frames/s", "energy", "source", "Wh/frame", "idle", "idle share", "peak memory", `cost ${r.currency}`],
    r.agents.map((a) => [
      a.name, String(a.frames), String(a.chunks), a.seconds.toFixed(1), a.framesPerSecond.toFixed(2), formatWh(a.energyWh),
      a.energySource, a.whPerFrame.toFixed(5), formatWh(a.idleEnergyWh), pct(a.idleShare), `${formatBytes(a.peakMemoryBytes)} ${a.memoryKind}`, a.cost.toFixed(5),
    ]),
  );
  const jobs = table(
    ["job", "name", "state", "frames", "energy", "Wh/frame", "Wh/video-s", "idle share", `cost ${r.currency}`],
    r.jobs.map((j) => [
      j.id, j.name, j.state, String(j.frames), formatWh(j.energyWh), j.whPerFrame.toFixed(5), j.whPerVideoSecond.toFixed(4),
      pct(j.idleShare), j.cost.toFixed(5),
    ]),
  );
  const t = r.totals;
  const lines = [
    heading(r),
    "",
    agents,
    "",
    jobs,
    "",
    `total: ${t.frames} frames, ${t.kWh.toFixed(6)} kWh (${t.energySource ?? "no chunks"}), ${t.whPerFrame.toFixed(5)} Wh/frame, ` +
      `${t.whPerVideoSecond.toFixed(4)} Wh per second of video, idle share ${pct(t.idleShare)}, ${t.cost.toFixed(5)} ${r.currency} (${r.tariff})`,
  ];
  if (t.costByPrice.length > 1) {
    lines.push(`  by price: ${t.costByPrice.map((p) => `${p.kWh.toFixed(6)} kWh at ${p.pricePerKwh} = ${p.cost.toFixed(5)}`).join("; ")}`);
  }
  if (t.telemetryEnergyWh !== null) {
    lines.push(`  farm telemetry: ${formatWh(t.telemetryEnergyWh)} drawn in the period, ${formatWh(t.telemetryIdleEnergyWh ?? 0)} of it while no chunk ran`);
  }
  return lines.join("\n") + "\n";
}

/** Numbers at 12 significant digits, so binary float noise (1.3409999999999997) prints as the decimal it stands for. */
function csvCell(v: string | number | null): string {
  const s = v === null ? "" : typeof v === "number" && !Number.isInteger(v) ? String(Number(v.toPrecision(12))) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV with a `kind` column: agent rows, job rows, then one total row. */
export function reportCsv(r: FarmReport): string {
  const header = [
    "kind", "id", "name", "frames", "chunks", "seconds", "energy_wh", "kwh", "energy_source", "idle_energy_wh", "idle_share",
    "wh_per_frame", "wh_per_video_second", "peak_memory_bytes", "peak_vram_bytes", "cost", "currency",
  ];
  const t = r.totals;
  const rows: Array<Array<string | number | null>> = [
    ...r.agents.map((a) => [
      "agent", a.id, a.name, a.frames, a.chunks, a.seconds, a.energyWh, a.kWh, a.energySource, a.idleEnergyWh, a.idleShare,
      a.whPerFrame, a.whPerVideoSecond, a.peakMemoryBytes, a.peakVramBytes, a.cost, r.currency,
    ]),
    ...r.jobs.map((j) => [
      "job", j.id, j.name, j.frames, j.chunks, j.seconds, j.energyWh, j.kWh, j.energySource, j.idleEnergyWh, j.idleShare,
      j.whPerFrame, j.whPerVideoSecond, j.peakMemoryBytes, j.peakVramBytes, j.cost, r.currency,
    ]),
    ["total", r.period, "", t.frames, t.chunks, t.seconds, t.energyWh, t.kWh, t.energySource, t.idleEnergyWh, t.idleShare, t.whPerFrame, t.whPerVideoSecond, null, null, t.cost, r.currency],
  ];
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
}
