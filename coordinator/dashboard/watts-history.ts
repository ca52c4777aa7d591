/**
 * The last minutes of each agent's power draw, sampled from the telemetry
 * service's latest reading once per tick, for the dashboard's live chart.
 * In memory and bounded: the store keeps the minute buckets for reports.
 */
import type { TelemetryService } from "../telemetry/telemetry-service.ts";

export class WattsHistory {
  private readonly points = new Map<string, Array<[number, number]>>();
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly maxPoints = 300) {}

  /** Records each agent's newest reading once (by its receive time). */
  sample(telemetry: TelemetryService): void {
    for (const [agentId, t] of telemetry.latestAll()) {
      if (t.sample.watts === null || this.lastSeen.get(agentId) === t.receivedAtMs) continue;
      this.lastSeen.set(agentId, t.receivedAtMs);
      const list = this.points.get(agentId) ?? [];
      list.push([t.receivedAtMs, Math.round(t.sample.watts * 10) / 10]);
      if (list.length > this.maxPoints) list.splice(0, list.length - this.maxPoints);
      this.points.set(agentId, list);
    }
  }

  series(agentId: string): Array<[number, number]> {
    return [...(this.points.get(agentId) ?? [])];
  }
}
