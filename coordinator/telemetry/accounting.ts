import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import type { AccountingConfig } from "../config/accounting-config.ts";
import type { ControlApi } from "../control/control-api.ts";
import type { Dispatcher } from "../dispatch/dispatcher.ts";
import type { MetricsServer } from "../metrics/metrics-server.ts";
import type { Store } from "../store/store.ts";
import { agentLiveView } from "./agent-live-view.ts";
import { FarmPowerGate } from "./farm-power-gate.ts";
import { TelemetryService } from "./telemetry-service.ts";

export interface AccountingDeps {
  config: AccountingConfig;
  store: Store;
  nc: NatsConnection;
  /** <p>.telemetry.* */
  telemetrySubject: string;
  /** The registry's latest heartbeat per agent. */
  live: ReadonlyMap<string, Heartbeat>;
  dispatcher: Dispatcher;
  api: ControlApi;
  clock: Clock;
  log: Logger;
}

/** The coordinator's accounting parts, started and stopped together. */
export interface Accounting {
  readonly telemetry: TelemetryService;
  /** http://host:port/metrics, or null when metricsListen is not set. */
  readonly metricsUrl: string | null;
  /** Unsubscribes, writes the open telemetry buckets and closes the metrics server. Call before the store closes. */
  stop(): Promise<void>;
}

/**
 * Wires telemetry (NATS in, SQLite out), the power budget (a start limit on
 * the dispatcher), the agents' live view for `nightshift agents`, and the
 * Prometheus endpoint.
 */
export async function startAccounting(d: AccountingDeps): Promise<Accounting> {
  const telemetry = new TelemetryService(d.store, d.clock, d.log.child({ part: "telemetry" }), { retention: d.config.telemetryRetention });
  const sub: Subscription = telemetry.subscribe(d.nc, d.telemetrySubject);
  telemetry.start();
  d.api.agentLive = agentLiveView(d.live, telemetry, d.clock);
  const budget = d.config.powerBudgetWatts;
  if (budget !== null) {
    const gate = new FarmPowerGate(budget, d.store, d.live, telemetry, d.clock, d.log.child({ part: "power-budget" }));
    d.dispatcher.limitStarts((queued, wanted) => gate.allowed(queued, wanted));
  }
  let metrics: MetricsServer | null = null;
  if (d.config.metrics !== null) {
    try {
      // prom-client (and the OpenTelemetry API it loads, some 90 modules) only when metrics are served: a coordinator's start waits for every module.
      const [{ createFarmMetrics }, { startMetricsServer }] = await Promise.all([import("../metrics/farm-metrics.ts"), import("../metrics/metrics-server.ts")]);
      const registry = createFarmMetrics({ store: d.store, telemetry, live: d.live, clock: d.clock, powerBudgetWatts: budget });
      metrics = await startMetricsServer(registry, d.config.metrics.host, d.config.metrics.port, d.log.child({ part: "metrics" }));
    } catch (err) {
      sub.unsubscribe();
      telemetry.stop();
      throw err;
    }
  }
  let stopped = false;
  return {
    telemetry,
    metricsUrl: metrics?.url ?? null,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      sub.unsubscribe();
      telemetry.stop();
      await metrics?.close();
    },
  };
}
