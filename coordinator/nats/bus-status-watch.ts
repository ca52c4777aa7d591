import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Why this file exists: agents' heartbeats reach the coordinator over its own
 * NATS connection. While that connection is down (the embedded nats-server
 * died and is being restarted, a cluster node went away) no heartbeat can
 * arrive, and silence says nothing about the agents. This tells the agent
 * registry when the connection drops and when it is back, so that it does not
 * declare every agent lost after an outage of the bus itself.
 */
export function watchBusStatus(nc: NatsConnection, on: { down(): void; back(): void }): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") on.down();
      else if (s.type === "reconnect") on.back();
    }
  })().catch(() => undefined);
}
