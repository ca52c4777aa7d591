import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { AgentControlSchema, decodeJson, type AgentControl } from "../../shared/protocol/messages.ts";
import type { Logger } from "../../shared/log.ts";

/**
 * Listens on <p>.ctl.<agentId> for the coordinator's instructions (cancel an
 * attempt: its job was cancelled, or the other copy of a speculative pair
 * committed first). A malformed message is logged and ignored.
 */
export function listenForControl(nc: NatsConnection, subject: string, onMessage: (m: AgentControl) => void, log: Logger): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      try {
        onMessage(decodeJson(AgentControlSchema, msg.data));
      } catch (e) {
        log.warn({ subject, err: (e as Error).message }, "malformed control message ignored");
      }
    },
  });
}
