import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../../shared/log.ts";
import { encodeJson, type AgentControl } from "../../shared/protocol/messages.ts";
import type { Subjects } from "../../shared/protocol/subjects.ts";

/** An attempt an agent should stop: cancelled with its job, or beaten by the other copy of a speculative pair. */
export interface AttemptToCancel {
  agentId: string;
  attemptId: string;
  reason: string;
}

export type CancelAttempts = (list: readonly AttemptToCancel[]) => void;

/**
 * Tells agents to stop attempts, on <p>.ctl.<agentId> (core NATS, fire and
 * forget). Losing the message is harmless: the sink refuses the attempt's
 * upload anyway, so the agent stops at its next frame at the latest.
 */
export function agentControlPublisher(nc: NatsConnection, subjects: Subjects, log: Logger): CancelAttempts {
  return (list) => {
    for (const a of list) {
      const msg: AgentControl = { type: "cancel-attempt", attemptId: a.attemptId, reason: a.reason };
      try {
        nc.publish(subjects.control(a.agentId), encodeJson(msg));
        log.info({ agentId: a.agentId, attemptId: a.attemptId, reason: a.reason }, "attempt cancel sent");
      } catch (err) {
        log.warn({ agentId: a.agentId, attemptId: a.attemptId, err: (err as Error).message }, "attempt cancel not sent");
      }
    }
  };
}

/**
 * Asks each agent for a heartbeat now, on its control subject: a restarted coordinator hears its agents within a
 * round trip of subscribing to heartbeats instead of over a heartbeat period, and its pool, held until the agents
 * running work at the restart are heard (lost-work-first.ts holdsPool), goes out that much sooner. Call after the
 * heartbeat subscription: the answers come on the same connection's subscription. `ask`: a number each agent echoes
 * in its heartbeats' `answers` from then on, which tells an answer from a heartbeat already under way (roll-call.ts).
 */
export function askForHeartbeats(nc: NatsConnection, subjects: Subjects, agentIds: readonly string[], log: Logger, ask?: number): void {
  const msg = encodeJson({ type: "heartbeat-now", ...(ask !== undefined && { ask }) } satisfies AgentControl);
  for (const agentId of agentIds) {
    try {
      nc.publish(subjects.control(agentId), msg);
    } catch (err) {
      log.warn({ agentId, err: (err as Error).message }, "heartbeat request not sent");
      return;
    }
  }
  log.debug({ agents: agentIds.length }, "heartbeats asked for");
}
