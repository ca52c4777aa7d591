/**
 * The last minutes of each agent's power draw, for the dashboard's live
 * chart: fed each telemetry sample as it arrives (TelemetryService.onSample;
 * it used to poll the latest readings every second, agents or not), at most
 * one point per agent per `minGapMs`, so `maxPoints` spans the same minutes
 * however often an agent reports. In memory and bounded: the store keeps the
 * minute buckets for reports.
 */
import type { LatestTelemetry } from "../telemetry/telemetry-service.ts";

export class WattsHistory {
  private readonly points = new Map<string, Array<[number, number]>>();

  constructor(
    private readonly maxPoints = 300,
    private readonly minGapMs = 1000,
  ) {}

  /** One agent's sample, as received: kept unless it has no watts or comes within minGapMs of the last point. */
  record(agentId: string, t: LatestTelemetry): void {
    if (t.sample.watts === null) return;
    const list = this.points.get(agentId) ?? [];
    const last = list.at(-1);
    if (last !== undefined && t.receivedAtMs - last[0] < this.minGapMs) return;
    list.push([t.receivedAtMs, Math.round(t.sample.watts * 10) / 10]);
    if (list.length > this.maxPoints) list.splice(0, list.length - this.maxPoints);
    this.points.set(agentId, list);
  }

  series(agentId: string): Array<[number, number]> {
    return [...(this.points.get(agentId) ?? [])];
  }
}
