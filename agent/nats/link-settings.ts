import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../../shared/log.ts";

/**
 * Why this file exists: how the agent's NATS connection rides out a link cut
 * is decided by a few connection settings, and a test on a cut link
 * (test/lan/nats-link-stale.test.ts) must use the agent's own.
 *
 * The silent link (fifteenth round's soak, 5.4 s): work placed on an agent
 * just back from its own link cut was not claimed 0.8 s later, although its
 * heartbeats were heard again. The agent's sends came through at once, but
 * what the server sent it did not: the server's TCP had sent into the cut
 * (pull heartbeats, the roll call, the placed message) and, unanswered, waits
 * out its retransmit timer, which doubles on each try (0.2, 0.6, 1.4, 3.0,
 * 6.2 s after the first). Measured on a netns LAN (a core subscription fed
 * every 50 ms from the server's host, the agent's bridge port down 1-5 s): the
 * first message reached the agent 0.13-2.5 s after the link was back, while the
 * agent's own messages reached the server within 0.02-0.11 s.
 *
 * So the agent pings the server every `NATS_PING_MS` and takes the connection
 * for stale when `NATS_MAX_PINGS_OUT` pings are unanswered at the next one
 * (nats.js's own stale-connection check, about 1.5 s of silence): it drops that
 * connection and dials a new one, which carries no retransmit backoff. On the
 * same LAN the agent was connected again 0.05-0.13 s after the link came back,
 * and the server's messages reached it 0.07-0.15 s after. A message the server
 * had handed the old connection is lost with it, as it was already when a pull
 * was given up: the coordinator's after-a-gap rule places such work again
 * (coordinator/dispatch/placed-take-back.ts), and calls in flight are sent
 * again at the reconnect (shared/nats/reconnect-race.ts). The server reports
 * the old connection closed only when the link is back, often just after the
 * agent's first heartbeat on the new one: each heartbeat names its connection
 * (natsConnectionName), and the coordinator ignores the close of another one
 * (coordinator/agents/agent-registry.ts connectionClosed).
 *
 * The agent's gRPC connections to the coordinator went through the same cut,
 * with the same one-sided return, or to a coordinator killed meanwhile whose
 * reset never comes: the reconnect after a stale drop is the agent's sign to
 * dial them again (watchStaleLinks' `relinked`, CoordinatorClient.redial),
 * rather than to wait up to 6 s for their keepalive (seventeenth round).
 *
 * The cost: two pings a second per agent, answered by the server. A host too
 * busy to read a pong for 1.5 s gets one needless reconnect; a cut shorter
 * than that is left to TCP (its retransmit then comes within about 0.8 s).
 */

/** Longest one NATS connect try of the agent (TCP, TLS, CONNECT/PONG), ms: a LAN handshake takes far less, even under load. */
export const NATS_CONNECT_TRY_MS = 5_000;
/** How often the agent pings its NATS server, ms. */
export const NATS_PING_MS = 500;
/** Pings unanswered at a ping tick that make the connection stale (so stale after about (this + 1) * NATS_PING_MS). */
export const NATS_MAX_PINGS_OUT = 2;

/** The agent's NATS connection settings for reconnects and silent links (spread into its connect options). */
export const AGENT_NATS_LINK = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  // nats.js adds up to 1 s at random to each try over TLS: after a coordinator restart (its nats-server restarted
  // with it) agents came back up to 1.25 s apart, and its pool is held until they are heard (twelfth round).
  reconnectJitterTLS: 250,
  // Each connect try may take this long (nats.js default 20 s). A try begun while the agent's link was cut hangs on
  // its SYN; at 20 s the agent came back on NATS (heartbeats, work) up to 20 s after its link did (soak, sixth round).
  timeout: NATS_CONNECT_TRY_MS,
  pingInterval: NATS_PING_MS,
  maxPingOut: NATS_MAX_PINGS_OUT,
} as const;

/**
 * The connection's name in nats-server's advisories: `<server id>/<client id>` from its INFO (undefined before
 * the first). Sent in each heartbeat, so the coordinator can tell the close of a connection the agent dropped as
 * stale, which the server reports once the link is back, from the close of the one it is on.
 */
export function natsConnectionName(nc: NatsConnection): string | undefined {
  const info = nc.info;
  return info ? `${info.server_id}/${info.client_id}` : undefined;
}

/**
 * Logs each connection the agent drops as stale (a silent link) and the reconnect that follows, and calls
 * `relinked` at that reconnect: the agent's gRPC connections to the coordinator went through the same cut and
 * may carry nothing either (the agent then dials them again: CoordinatorClient.redial).
 */
export function watchStaleLinks(nc: NatsConnection, log: Logger, relinked: () => void = () => undefined): void {
  void (async () => {
    let staleAt: number | undefined;
    for await (const s of nc.status()) {
      if (s.type === "staleConnection") {
        staleAt = performance.now();
        log.warn({ silentMs: (NATS_MAX_PINGS_OUT + 1) * NATS_PING_MS }, "NATS link silent: dropping the connection and dialling again");
      } else if (s.type === "reconnect" && staleAt !== undefined) {
        log.info({ afterMs: Math.round(performance.now() - staleAt) }, "NATS connected again after a silent link");
        staleAt = undefined;
        try {
          relinked();
        } catch (err) {
          log.warn({ err: (err as Error).message }, "after a silent link: the agent's other connections not dialled again");
        }
      }
    }
  })().catch(() => undefined);
}
