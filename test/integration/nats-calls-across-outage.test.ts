import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { WorkLoop } from "../../agent/nats/work-loop.ts";
import { WorkQueue } from "../../coordinator/nats/work-queue.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import { WORK_STREAM } from "../../shared/protocol/subjects.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startNats } from "../helpers/nats.ts";
import { testLog } from "../helpers/test-log.ts";

// JetStream's own timeout for a publish (nats.js default): a publish lost with the old connection waits this long.
const PUBLISH_TIMEOUT_MS = 5_000;
// The agent's first wait for its ack's confirmation (agent/nats/work-loop.ts).
const ACK_TIMEOUT_MS = 3_000;

test("a chunk publish sent while the coordinator's nats-server is down is sent again once it is back, not waited on for its timeout", async (t) => {
  const nats = await startNats(t);
  // As the coordinator connects: reconnect tries 250 ms apart.
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  defer(t, () => nc.close());
  const retries: string[] = [];
  const queue = new WorkQueue(nc, { ackWaitSeconds: 30, maxDeliver: 10, retry: { onRetry: (_attempt, err) => retries.push(err.name) } });
  await queue.ensure();
  await queue.publish({ chunkId: "chunk_before", jobId: "job_1", dispatchId: "dsp_before" });

  // The server dies (the supervisor starts it again on the same port and store); a dispatch pass publishes meanwhile.
  const pid = nats.server.pid as number;
  const restarted = once(nats.server, "restarted");
  const disconnected = untilStatus(nc, "disconnect");
  process.kill(pid, "SIGKILL");
  await disconnected;
  const sentAt = performance.now();
  const msg: WorkMessage = { chunkId: "chunk_during", jobId: "job_1", dispatchId: "dsp_during" };
  const seq = await queue.publish(msg);
  const tookMs = performance.now() - sentAt;
  await restarted;

  // A publish lost with the old connection cannot resolve before its timeout: it was sent again at the reconnect.
  assert.ok(tookMs < PUBLISH_TIMEOUT_MS, `the publish took ${Math.round(tookMs)} ms (retries: ${retries.join(", ") || "none"}): waited out its timeout`);
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.streams.getMessage(WORK_STREAM, { seq });
  assert.equal(JSON.parse(stored?.string() ?? "{}").dispatchId, msg.dispatchId);
  assert.equal((await jsm.streams.info(WORK_STREAM)).state.messages, 2, "stored once (the resend is deduplicated by its message id)");
});

test("an agent's ack sent while its nats-server is down is sent again once it is back, not waited on for its timeout", async (t) => {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  defer(t, () => nc.close());
  const queue = new WorkQueue(nc, { ackWaitSeconds: 30, maxDeliver: 10 });
  await queue.ensure();
  // The test's own look-ups time out soon: one lost in the outage must not hold the poll below.
  const jsm = await jetstreamManager(nc, { timeout: 250 });
  await queue.publish({ chunkId: "chunk_1", jobId: "job_1", dispatchId: "dsp_1" });

  // As the agent connects: reconnect tries 250 ms apart. Its chunk ends while the server is down.
  const agentNc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  defer(t, () => agentNc.close());
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const loop = new WorkLoop(agentNc, async () => {
    started();
    await finished;
  }, { ackWaitSeconds: 30 }, testLog());
  defer(t, () => loop.stop());
  loop.start();
  await running;

  const disconnected = untilStatus(agentNc, "disconnect");
  process.kill(nats.server.pid as number, "SIGKILL");
  await disconnected;
  const ackedAt = performance.now();
  finish();

  // A work-queue stream drops a message once it is acked: the ack reached the restarted server.
  await eventually(async () => (await jsm.streams.info(WORK_STREAM).then((i) => i.state.messages, () => -1)) === 0, "the chunk's ack to reach the restarted server", 10_000, 50);
  const tookMs = performance.now() - ackedAt;
  assert.ok(tookMs < ACK_TIMEOUT_MS, `the ack took ${Math.round(tookMs)} ms to be confirmed: waited out its timeout`);
});

/** Resolves at the connection's next status of this type. */
async function untilStatus(nc: NatsConnection, type: string): Promise<void> {
  for await (const s of nc.status()) if (s.type === type) return;
}
