import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../shared/log.ts";
import type { WorkQueue } from "./work-queue.ts";

/**
 * Creates (or confirms) an agent's own durable consumer when it joins, so
 * that work placed on it reaches it. Retried for a few seconds: enrolling an
 * agent reloads the embedded nats-server's users, and nats-server answers
 * JetStream requests made during a reload with "jetstream is not enabled".
 */
export async function ensureAgentConsumer(queue: WorkQueue, agentId: string, log: Logger, attempts = 12): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await queue.ensureAgentConsumer(agentId);
      return;
    } catch (err) {
      if (i >= attempts) throw err;
      log.warn({ agentId, attempt: i, err: (err as Error).message }, "agent consumer not created yet; retrying");
      await sleep(Math.min(1000, 50 * 2 ** i));
    }
  }
}
