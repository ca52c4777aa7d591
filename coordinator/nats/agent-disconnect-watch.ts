import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { z } from "zod";
import type { Logger } from "../../shared/log.ts";

/**
 * Why this file exists: an agent that dies stops heartbeating, and heartbeats
 * alone tell the registry only after agentTimeoutMs (4 s) of silence. Its NATS
 * connection, though, is closed by the kernel as the process dies, and
 * nats-server says so at once in a client_disconnect advisory on the system
 * account (`$SYS.ACCOUNT.<account>.DISCONNECT`). This watch reads those
 * advisories (on the system-account connection the coordinator holds for
 * account pushes) and names the agent whose connection its own side closed.
 * A cut link closes nothing; heartbeats still cover that. Each advisory
 * names its connection (`<server id>/<client id>`), as the agent's heartbeats
 * name theirs: an agent that dropped a silent connection and dialled again
 * (agent/nats/link-settings.ts) is not taken for gone when the old one's close
 * is reported.
 */

/** The subject nats-server publishes a client's disconnect on, for the account the agents live in. */
export function disconnectSubject(accountPublicKey: string): string {
  return `$SYS.ACCOUNT.${accountPublicKey}.DISCONNECT`;
}

/**
 * Reasons (nats-server's closed states) meaning the client's end went away: EOF, a reset, a write to a
 * dead socket. A server closing the connection itself (shutdown, stale, slow consumer) is left to the
 * heartbeats: the client reconnects from those, to this server or another node.
 */
const PEER_GONE = new Set(["Client Closed", "Read Error", "Write Error"]);

const DisconnectAdvisory = z.object({
  type: z.literal("io.nats.server.advisory.v1.client_disconnect"),
  reason: z.string().default(""),
  server: z.object({ id: z.string() }).optional(),
  client: z.object({
    /** The user JWT's name; agents' users are named `agent-<agentId>` (nats-operator-keys.ts). */
    name_tag: z.string().optional(),
    /** The connection's id on its server (the client_id of the server's INFO to it). */
    id: z.number().optional(),
  }),
});

/** An agent's connection that nats-server says its own side closed. */
export interface ClosedAgentConnection {
  agentId: string;
  reason: string;
  /** `<server id>/<client id>`, as the agent's heartbeats name their connection; undefined when the advisory lacks either. */
  connection?: string;
}

/** The agent id an advisory's client stands for, when the peer went away; undefined for any other client or reason. */
export function closedAgentOf(advisory: unknown): ClosedAgentConnection | undefined {
  const a = DisconnectAdvisory.safeParse(advisory);
  if (!a.success || !PEER_GONE.has(a.data.reason)) return undefined;
  const m = /^agent-(\S+)$/.exec(a.data.client.name_tag ?? "");
  if (!m) return undefined;
  const { server, client } = a.data;
  return { agentId: m[1] as string, reason: a.data.reason, ...(server && client.id !== undefined && { connection: `${server.id}/${client.id}` }) };
}

/** Calls `closed` for every agent whose NATS connection its own side closed. */
export function watchAgentDisconnects(
  systemNc: NatsConnection,
  accountPublicKey: string,
  closed: (c: ClosedAgentConnection) => void,
  log: Logger,
): Subscription {
  return systemNc.subscribe(disconnectSubject(accountPublicKey), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const c = closedAgentOf(msg.json());
        if (c) closed(c);
      } catch (e) {
        log.warn({ err: (e as Error).message }, "disconnect advisory not handled");
      }
    },
  });
}
