import { ENERGY_SOURCES, type EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import { costOfEnergy, type CompiledTariff } from "../../shared/accounting/tariff.ts";
import type { LedgerEntry } from "../store/ledger-table.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { AgentReport, FarmReport, JobReport } from "./report-types.ts";

const J_PER_WH = 3600;

/** The least direct source wins: estimate < rapl < nvidia-smi < nvml. */
function weakest(sources: Iterable<EnergySource>): EnergySource {
  let rank = -1;
  for (const s of sources) rank = Math.max(rank, ENERGY_SOURCES.indexOf(s));
  return ENERGY_SOURCES[Math.max(rank, 0)] as EnergySource;
}

function cost(tariff: CompiledTariff, entries: readonly LedgerEntry[]): number {
  const intervals = entries.map((e) => ({ startMs: e.finishedAt - e.wallSeconds * 1000, endMs: e.finishedAt, joules: e.energyJoules }));
  return costOfEnergy(tariff, intervals).cost;
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

/**
 * Pure: ledger rows, agents and jobs in, the report out. The same function
 * serves the demo's summary, `nightshift report` against a live coordinator
 * and `nightshift report --data-dir` on a stopped one.
 */
export function buildReport(input: {
  ledger: readonly LedgerEntry[];
  agents: readonly AgentRow[];
  jobs: readonly JobRow[];
  tariff: CompiledTariff;
  tariffLabel: string;
  nowMs: number;
  fromMs: number;
}): FarmReport {
  const { ledger, tariff } = input;
  const names = new Map(input.agents.map((a) => [a.id, a.name]));
  const agents: AgentReport[] = [...groupBy(ledger, (e) => e.agentId)].map(([id, es]) => {
    const frames = sum(es, (e) => e.frames);
    const seconds = sum(es, (e) => e.wallSeconds);
    const busy = sum(es, (e) => e.busySeconds);
    const vram = es.some((e) => e.memoryKind === "vram");
    const peak = Math.max(0, ...es.map((e) => e.peakMemoryBytes));
    return {
      id,
      name: names.get(id) ?? id,
      frames,
      chunks: es.length,
      seconds,
      busySeconds: busy,
      framesPerSecond: seconds > 0 ? frames / seconds : 0,
      energyWh: sum(es, (e) => e.energyJoules) / J_PER_WH,
      energySource: weakest(es.map((e) => e.energySource)),
      idleEnergyWh: sum(es, (e) => e.idleEnergyJoules) / J_PER_WH,
      peakMemoryBytes: peak,
      peakVramBytes: vram ? Math.max(0, ...es.filter((e) => e.memoryKind === "vram").map((e) => e.peakMemoryBytes)) : null,
      memoryKind: vram ? "vram" : "ram",
      cost: cost(tariff, es),
    };
  });
  const byJob = groupBy(ledger, (e) => e.jobId);
  const jobs: JobReport[] = input.jobs.map((j) => {
    const es = byJob.get(j.id) ?? [];
    const frames = sum(es, (e) => e.frames);
    const energyWh = sum(es, (e) => e.energyJoules) / J_PER_WH;
    const idleWh = sum(es, (e) => e.idleEnergyJoules) / J_PER_WH;
    const videoSeconds = frames / (j.fps || 24);
    const end = j.finishedAt ?? input.nowMs;
    return {
      id: j.id,
      name: j.name,
      state: j.state,
      frames,
      chunks: es.length,
      wallSeconds: j.startedAt ? (end - j.startedAt) / 1000 : 0,
      energyWh,
      idleEnergyWh: idleWh,
      idleShare: energyWh > 0 ? idleWh / energyWh : 0,
      whPerFrame: frames > 0 ? energyWh / frames : 0,
      whPerVideoSecond: videoSeconds > 0 ? energyWh / videoSeconds : 0,
      peakMemoryBytes: Math.max(0, ...es.map((e) => e.peakMemoryBytes)),
      cost: cost(tariff, es),
      energySource: weakest(es.map((e) => e.energySource)),
    };
  });
  const energyWh = sum(ledger, (e) => e.energyJoules) / J_PER_WH;
  return {
    generatedAtMs: input.nowMs,
    fromMs: input.fromMs,
    toMs: input.nowMs,
    currency: tariff.currency,
    tariff: input.tariffLabel,
    totals: {
      frames: sum(ledger, (e) => e.frames),
      energyWh,
      kWh: energyWh / 1000,
      idleEnergyWh: sum(ledger, (e) => e.idleEnergyJoules) / J_PER_WH,
      cost: cost(tariff, ledger),
    },
    agents,
    jobs,
  };
}
