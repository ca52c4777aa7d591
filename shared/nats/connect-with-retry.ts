import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../log.ts";

/**
 * A first NATS connect that waits out a users reload: the coordinator adds a
 * user and asks nats-server (embedded, or every node of a cluster) to reload,
 * and a connect that arrives before the reload is refused with
 * "Authorization Violation". Such refusals are retried every 500 ms, at most
 * `attempts` times; any other error is thrown at once.
 */
export async function connectWithRetry(options: ConnectionOptions, log: Logger, attempts = 20): Promise<NatsConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(options);
    } catch (err) {
      if (attempt >= attempts || !/authorization violation/i.test((err as Error).message)) throw err;
      log.warn({ attempt, err: (err as Error).message }, "NATS refused the first connect; retrying while the users reload");
      await sleep(500);
    }
  }
}
