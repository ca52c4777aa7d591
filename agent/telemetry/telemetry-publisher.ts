import type { NatsConnection } from "@nats-io/nats-core";
import { encodeJson } from "../../shared/protocol/messages.ts";
import type { TelemetrySample } from "../../shared/protocol/telemetry-message.ts";

/** The NATS edge of telemetry: core publish on <p>.telemetry.<agentId>, fire and forget (totals bridge lost samples). */
export function telemetryPublisher(nc: NatsConnection, subject: string): (sample: TelemetrySample) => void {
  return (sample) => {
    if (nc.isClosed()) return;
    try {
      nc.publish(subject, encodeJson(sample));
    } catch {
      // disconnected: the next sample's running total covers this one
    }
  };
}
