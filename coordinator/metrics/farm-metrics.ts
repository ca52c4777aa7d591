import { Counter, Gauge, Registry } from "prom-client";
import type { Clock } from "../../shared/clock.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import type { Store } from "../store/store.ts";
import type { TelemetryService } from "../telemetry/telemetry-service.ts";

export interface FarmMetricsDeps {
  store: Store;
  telemetry: TelemetryService;
  live: ReadonlyMap<string, Heartbeat>;
  clock: Clock;
  powerBudgetWatts: number | null;
  /** Telemetry older than this is not reported as current power. */
  freshMs?: number;
}

/**
 * Prometheus metrics of the farm, computed at scrape time from the store
 * (ledger, attempts: survive restarts) and the latest telemetry (memory).
 * A private registry, so two coordinators in one process never share one.
 */
export function createFarmMetrics(d: FarmMetricsDeps): Registry {
  const registry = new Registry();
  const registers = [registry];
  const freshMs = d.freshMs ?? 10_000;
  const names = (): Map<string, string> => new Map(d.store.agents.list().map((a) => [a.id, a.name]));
  const fresh = () => {
    const now = d.clock();
    return [...d.telemetry.latestAll()].filter(([, t]) => now - t.receivedAtMs <= freshMs);
  };
  const perAgentGauge = (name: string, help: string, value: (s: ReturnType<typeof fresh>[number][1]["sample"]) => number | null, extra: "source" | null = null) =>
    new Gauge({
      name,
      help,
      labelNames: extra === null ? ["agent", "name"] : ["agent", "name", extra],
      registers,
      collect() {
        this.reset();
        const n = names();
        for (const [id, t] of fresh()) {
          const v = value(t.sample);
          if (v === null) continue;
          this.set(extra === null ? { agent: id, name: n.get(id) ?? id } : { agent: id, name: n.get(id) ?? id, source: t.sample.source }, v);
        }
      },
    });

  perAgentGauge("nightshift_agent_power_watts", "Latest power draw of what the agent's source measures (GPU board, CPU package, or an estimate)", (s) => s.watts, "source");
  perAgentGauge("nightshift_agent_vram_bytes", "GPU memory held by the agent's own processes", (s) => s.vramBytes);
  perAgentGauge("nightshift_agent_ram_bytes", "Resident memory of the agent process", (s) => s.ramBytes);
  perAgentGauge("nightshift_agent_utilisation_ratio", "GPU utilisation (CPU for estimate sources), 0..1", (s) => (s.utilisationPercent === null ? null : s.utilisationPercent / 100));
  perAgentGauge("nightshift_agent_temperature_celsius", "Hottest GPU of the agent", (s) => s.temperatureC);
  perAgentGauge("nightshift_agent_idle_watts", "Idle baseline the agent uses (configured or measured)", (s) => s.idleWatts);

  new Counter({
    name: "nightshift_agent_energy_joules_total",
    help: "Energy reported in telemetry since this coordinator started",
    labelNames: ["agent", "name"],
    registers,
    collect() {
      this.reset();
      const n = names();
      for (const [id, j] of d.telemetry.energyJoules()) this.inc({ agent: id, name: n.get(id) ?? id }, j);
    },
  });
  new Gauge({
    name: "nightshift_agent_up",
    help: "1 when the agent is online; the status label says idle, busy, draining or paused-foreign-gpu-use",
    labelNames: ["agent", "name", "status"],
    registers,
    collect() {
      this.reset();
      for (const a of d.store.agents.list()) {
        if (a.state === "removed") continue;
        const online = a.state === "online";
        this.set({ agent: a.id, name: a.name, status: online ? (d.live.get(a.id)?.status ?? "unknown") : a.state }, online ? 1 : 0);
      }
    },
  });
  new Counter({
    name: "nightshift_agent_chunks_total",
    help: "Chunk attempts per agent by outcome (running, committed, failed, lost, cancelled, ...)",
    labelNames: ["agent", "name", "outcome"],
    registers,
    collect() {
      this.reset();
      const n = names();
      for (const r of d.store.attempts.countsByAgentAndState()) this.inc({ agent: r.agentId, name: n.get(r.agentId) ?? r.agentId, outcome: r.state }, r.n);
    },
  });
  const ledgerCounter = (name: string, help: string, pick: (r: { chunks: number; frames: number; energyJoules: number }) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["agent", "name"],
      registers,
      collect() {
        this.reset();
        const n = names();
        for (const r of d.store.ledger.totalsByAgent()) this.inc({ agent: r.agentId, name: n.get(r.agentId) ?? r.agentId }, pick(r) ?? 0);
      },
    });
  ledgerCounter("nightshift_agent_frames_committed_total", "Frames committed by the sink, per agent", (r) => r.frames);
  ledgerCounter("nightshift_agent_chunk_energy_joules_total", "Energy of committed chunks (the accounting ledger), per agent", (r) => r.energyJoules);

  new Gauge({
    name: "nightshift_farm_power_watts",
    help: "Sum of the agents' latest power draw",
    registers,
    collect() {
      this.set(fresh().reduce((s, [, t]) => s + (t.sample.watts ?? 0), 0));
    },
  });
  if (d.powerBudgetWatts !== null) {
    const budget = d.powerBudgetWatts;
    new Gauge({ name: "nightshift_power_budget_watts", help: "The studio power budget (powerBudgetWatts)", registers, collect() { this.set(budget); } });
  }
  new Counter({
    name: "nightshift_telemetry_samples_total",
    help: "Telemetry samples taken in (accepted) and dropped (duplicates, malformed, wrong subject)",
    labelNames: ["result"],
    registers,
    collect() {
      this.reset();
      this.inc({ result: "accepted" }, d.telemetry.received);
      this.inc({ result: "dropped" }, d.telemetry.dropped);
    },
  });
  return registry;
}
