import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { chunksWithinBudget, type AgentPower } from "../dispatch/power-budget.ts";
import type { Store } from "../store/store.ts";
import type { TelemetryService } from "./telemetry-service.ts";

/**
 * Applies the studio power budget to dispatch: gathers each online agent's
 * latest telemetry, heartbeat and history, and asks the pure rule
 * (coordinator/dispatch/power-budget.ts) how many chunks may start.
 */
export class FarmPowerGate {
  private holding = false;

  constructor(
    private readonly budgetWatts: number,
    private readonly store: Store,
    private readonly live: ReadonlyMap<string, Heartbeat>,
    private readonly telemetry: TelemetryService,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Telemetry older than this is not a measurement of now. */
    private readonly freshMs = 10_000,
  ) {}

  agents(): AgentPower[] {
    const now = this.clock();
    return this.store.agents
      .list()
      .filter((a) => a.state === "online")
      .map((a) => {
        const t = this.telemetry.latest(a.id);
        const fresh = t !== undefined && now - t.receivedAtMs <= this.freshMs;
        const status = this.live.get(a.id)?.status ?? "idle";
        const busy = status === "busy" || this.store.attempts.runningForAgent(a.id).length > 0;
        return {
          agentId: a.id,
          watts: fresh ? t.sample.watts : null,
          busy,
          available: !busy && status === "idle",
          busyWatts: this.telemetry.expectedBusyWatts(a.id),
        };
      });
  }

  /** How many of `wanted` chunks may start with `queued` already waiting. */
  allowed(queued: number, wanted: number): number {
    const d = chunksWithinBudget(this.budgetWatts, this.agents(), queued, wanted);
    const holding = d.allowed < wanted;
    if (holding !== this.holding) {
      this.holding = holding;
      const fields = { budgetWatts: d.budgetWatts, farmWatts: Math.round(d.farmWatts), projectedWatts: Math.round(d.projectedWatts), allowed: d.allowed, wanted };
      if (holding) this.log.info(fields, "power budget limits dispatch");
      else this.log.info(fields, "power budget allows dispatch again");
    }
    return d.allowed;
  }
}
