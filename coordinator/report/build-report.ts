import { ENERGY_SOURCES, type EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import { costOfEnergy, type CompiledTariff, type CostBreakdown } from "../../shared/accounting/tariff.ts";
import type { LedgerEntry } from "../store/ledger-table.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { TelemetryBucketRow } from "../telemetry/telemetry-bucket.ts";
import type { AgentReport, FarmReport, JobReport, ReportTotals } from "./report-types.ts";

const J_PER_WH = 3600;
const DEFAULT_FPS = 24;

/** The least direct source wins: estimate < rapl < nvidia-smi < nvml. */
function weakest(sources: readonly EnergySource[]): EnergySource | null {
  if (sources.length === 0) return null;
  let rank = -1;
  for (const s of sources) rank = Math.max(rank, ENERGY_SOURCES.indexOf(s));
  return ENERGY_SOURCES[Math.max(rank, 0)] as EnergySource;
}

/** A chunk's energy spread evenly over its wall time, ending when it was committed. */
function costOf(tariff: CompiledTariff, entries: readonly LedgerEntry[]): CostBreakdown {
  return costOfEnergy(
    tariff,
    entries.map((e) => ({ startMs: e.finishedAt - e.wallSeconds * 1000, endMs: e.finishedAt, joules: e.energyJoules })),
  );
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);
const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

/** Figures every level of the report shares, from a set of ledger rows. */
function figures(es: readonly LedgerEntry[], fpsOf: (jobId: string) => number, tariff: CompiledTariff) {
  const frames = sum(es, (e) => e.frames);
  const energyWh = sum(es, (e) => e.energyJoules) / J_PER_WH;
  const idleEnergyWh = sum(es, (e) => e.idleEnergyJoules) / J_PER_WH;
  const videoSeconds = sum(es, (e) => e.frames / fpsOf(e.jobId));
  const vram = es.filter((e) => e.memoryKind === "vram");
  const breakdown = costOf(tariff, es);
  return {
    frames,
    chunks: es.length,
    seconds: sum(es, (e) => e.wallSeconds),
    energyWh,
    kWh: energyWh / 1000,
    idleEnergyWh,
    idleShare: ratio(idleEnergyWh, energyWh),
    whPerFrame: ratio(energyWh, frames),
    whPerVideoSecond: ratio(energyWh, videoSeconds),
    peakMemoryBytes: Math.max(0, ...es.map((e) => e.peakMemoryBytes)),
    peakVramBytes: vram.length > 0 ? Math.max(0, ...vram.map((e) => e.peakMemoryBytes)) : null,
    energySource: weakest(es.map((e) => e.energySource)),
    cost: breakdown.cost,
    costByPrice: breakdown.parts,
  };
}

/**
 * Telemetry energy inside [fromMs, nowMs): a bucket cut by fromMs counts in
 * proportion to its overlap. A bucket still open at nowMs holds only samples
 * taken before now, so it counts whole: a report over a closed store gives
 * the same figure whenever it is asked.
 */
function telemetryEnergy(rows: readonly TelemetryBucketRow[] | undefined, fromMs: number, nowMs: number) {
  if (rows === undefined || rows.length === 0) return { total: null, idle: null };
  let total = 0;
  let idle = 0;
  for (const b of rows) {
    const end = Math.min(b.startMs + b.bucketMs, nowMs);
    const share = b.startMs >= fromMs ? 1 : ratio(Math.max(0, end - fromMs), end - b.startMs);
    total += b.energyJoules * share;
    idle += b.idleEnergyJoules * share;
  }
  return { total: total / J_PER_WH, idle: idle / J_PER_WH };
}

export interface ReportInput {
  ledger: readonly LedgerEntry[];
  agents: readonly AgentRow[];
  /** The jobs listed in the report. */
  jobs: readonly JobRow[];
  /** Frame rate of any job a ledger row may name (for Wh per second of video); 24 when unknown. */
  fpsByJob?: ReadonlyMap<string, number>;
  /** Telemetry buckets of the period, for the farm's whole draw (optional). */
  telemetry?: readonly TelemetryBucketRow[];
  tariff: CompiledTariff;
  tariffLabel: string;
  period: FarmReport["period"];
  nowMs: number;
  fromMs: number;
}

/**
 * Pure: ledger rows, agents and jobs in, the report out. The same function
 * serves the demo's summary, `nightshift report` against a live coordinator
 * and `nightshift report --data-dir` on a stopped one.
 */
export function buildReport(input: ReportInput): FarmReport {
  const { ledger, tariff } = input;
  const fps = new Map(input.fpsByJob ?? []);
  for (const j of input.jobs) if (!fps.has(j.id)) fps.set(j.id, j.fps);
  const fpsOf = (jobId: string): number => {
    const f = fps.get(jobId);
    return f !== undefined && f > 0 ? f : DEFAULT_FPS;
  };
  const names = new Map(input.agents.map((a) => [a.id, a.name]));
  const agents: AgentReport[] = [...groupBy(ledger, (e) => e.agentId)].map(([id, es]) => {
    const f = figures(es, fpsOf, tariff);
    const busySeconds = sum(es, (e) => e.busySeconds);
    return {
      id,
      name: names.get(id) ?? id,
      frames: f.frames,
      chunks: f.chunks,
      seconds: f.seconds,
      busySeconds,
      framesPerSecond: ratio(f.frames, f.seconds),
      energyWh: f.energyWh,
      kWh: f.kWh,
      energySource: f.energySource ?? "estimate",
      idleEnergyWh: f.idleEnergyWh,
      idleShare: f.idleShare,
      whPerFrame: f.whPerFrame,
      whPerVideoSecond: f.whPerVideoSecond,
      peakMemoryBytes: f.peakMemoryBytes,
      peakVramBytes: f.peakVramBytes,
      memoryKind: f.peakVramBytes !== null ? "vram" : "ram",
      cost: f.cost,
    };
  });
  const byJob = groupBy(ledger, (e) => e.jobId);
  const jobs: JobReport[] = input.jobs.map((j) => {
    const f = figures(byJob.get(j.id) ?? [], fpsOf, tariff);
    const end = j.finishedAt ?? input.nowMs;
    return {
      id: j.id,
      name: j.name,
      state: j.state,
      frames: f.frames,
      chunks: f.chunks,
      wallSeconds: j.startedAt ? (end - j.startedAt) / 1000 : 0,
      seconds: f.seconds,
      energyWh: f.energyWh,
      kWh: f.kWh,
      idleEnergyWh: f.idleEnergyWh,
      idleShare: f.idleShare,
      whPerFrame: f.whPerFrame,
      whPerVideoSecond: f.whPerVideoSecond,
      peakMemoryBytes: f.peakMemoryBytes,
      peakVramBytes: f.peakVramBytes,
      cost: f.cost,
      energySource: f.energySource ?? "estimate",
    };
  });
  const all = figures(ledger, fpsOf, tariff);
  const tel = telemetryEnergy(input.telemetry, input.fromMs, input.nowMs);
  const totals: ReportTotals = {
    frames: all.frames,
    chunks: all.chunks,
    seconds: all.seconds,
    energyWh: all.energyWh,
    kWh: all.kWh,
    idleEnergyWh: all.idleEnergyWh,
    idleShare: all.idleShare,
    whPerFrame: all.whPerFrame,
    whPerVideoSecond: all.whPerVideoSecond,
    cost: all.cost,
    costByPrice: all.costByPrice,
    energySource: all.energySource,
    telemetryEnergyWh: tel.total,
    telemetryIdleEnergyWh: tel.idle,
  };
  return {
    generatedAtMs: input.nowMs,
    period: input.period,
    fromMs: input.fromMs,
    toMs: input.nowMs,
    currency: tariff.currency,
    tariff: input.tariffLabel,
    totals,
    agents,
    jobs,
  };
}
