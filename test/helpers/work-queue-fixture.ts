import type { TestContext } from "node:test";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { WorkQueue } from "../../coordinator/nats/work-queue.ts";
import { WorkLoop, type WorkHandler, type WorkLoopOptions } from "../../agent/nats/work-loop.ts";
import { POOL_CONSUMER, WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { defer } from "./defer.ts";
import { startNats } from "./nats.ts";
import { testLog } from "./test-log.ts";

/** A real nats-server with the work stream and pool consumer, a coordinator-side connection and queue. */
export async function startWorkQueue(t: TestContext, ackWaitSeconds: number, maxDeliver = 10) {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  defer(t, () => nc.close());
  const queue = new WorkQueue(nc, { ackWaitSeconds, maxDeliver });
  await queue.ensure();
  const jsm: JetStreamManager = await jetstreamManager(nc);
  return {
    ...nats,
    nc,
    queue,
    jsm,
    streamMessages: async (): Promise<number> => (await jsm.streams.info(WORK_STREAM)).state.messages,
    pool: () => jsm.consumers.info(WORK_STREAM, POOL_CONSUMER),
    /** Starts an agent's WorkLoop on its own connection; stopped (then closed) when the test ends. */
    startLoop: async (handler: WorkHandler, loopOptions: Partial<WorkLoopOptions> = {}): Promise<{ loop: WorkLoop; nc: NatsConnection }> => {
      const agentNc = await connect({ servers: nats.url });
      defer(t, () => agentNc.close());
      const loop = new WorkLoop(agentNc, handler, { ackWaitSeconds, ...loopOptions }, testLog());
      defer(t, () => loop.stop());
      loop.start();
      return { loop, nc: agentNc };
    },
  };
}
