import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { EmbeddedNatsServer } from "../../coordinator/nats/embedded-nats-server.ts";
import { WorkQueue } from "../../coordinator/nats/work-queue.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, agentConsumerName } from "../../shared/protocol/subjects.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { pullsOpen } from "../helpers/open-pulls.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

// Long enough that a message swallowed by a stale pull (redelivered only after the ack wait) fails the test.
const ACK_WAIT_S = 30;
const AGENT = "agt-reconnect";

test("work placed on an agent while its NATS server was down reaches it once it reconnects, not after the ack wait", async (t) => {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  await wq.queue.ensureAgentConsumer(AGENT);
  const got: WorkMessage[] = [];
  await wq.startLoop(async (msg) => void got.push(msg), { agentConsumer: agentConsumerName(AGENT) });
  await pullsOpen(wq.jsm, { [agentConsumerName(AGENT)]: 1, [POOL_CONSUMER]: 1 }, "the agent's pulls (its own consumer and the pool) to be open");

  // The server goes away for a few seconds (a coordinator restart): the loop keeps pulling meanwhile.
  await wq.server.stop();
  await sleep(3_000);
  const again = new EmbeddedNatsServer({ dir: wq.dir, host: "127.0.0.1", port: 0, log: testLog() });
  defer(t, () => again.stop());
  const url = await again.start();

  // The new coordinator places the work on the agent's own subject before the agent is back.
  const nc = await connect({ servers: url });
  defer(t, () => nc.close());
  const queue = new WorkQueue(nc, { ackWaitSeconds: ACK_WAIT_S, maxDeliver: 10 });
  const msg: WorkMessage = { chunkId: "chunk_placed", jobId: "job_1", dispatchId: "dsp_placed" };
  await queue.publish(msg, AGENT);

  await eventually(() => got.length === 1, "the placed message to reach the reconnected agent", 12_000);
  assert.deepEqual(got, [msg]);
});
