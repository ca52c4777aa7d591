import type { EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import type { TelemetryService } from "./telemetry-service.ts";

/** What `nightshift agents` shows beside the stored agent row: heartbeat status, why it is paused, kinds whose tool is down, latest power. */
export interface AgentLive {
  /** idle | busy | draining | paused-foreign-gpu-use; "" when no heartbeat is known. */
  status: string;
  note: string;
  /** Step kinds whose tool the agent reports down (its ComfyUI not answering); [] when none or no heartbeat. */
  downKinds: readonly string[];
  powerWatts: number | null;
  energySource: EnergySource | "";
}

export const NO_AGENT_LIVE: AgentLive = { status: "", note: "", downKinds: [], powerWatts: null, energySource: "" };

/** Reads the registry's latest heartbeats and the telemetry service; power older than freshMs is not shown. */
export function agentLiveView(live: ReadonlyMap<string, Heartbeat>, telemetry: TelemetryService, clock: () => number, freshMs = 10_000) {
  return (agentId: string): AgentLive => {
    const hb = live.get(agentId);
    const t = telemetry.latest(agentId);
    const fresh = t !== undefined && clock() - t.receivedAtMs <= freshMs;
    return {
      status: hb?.status ?? "",
      note: hb?.note ?? "",
      downKinds: hb?.downKinds ?? [],
      powerWatts: fresh ? t.sample.watts : null,
      energySource: fresh ? t.sample.source : "",
    };
  };
}
