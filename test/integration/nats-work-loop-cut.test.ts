import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { WorkLoop } from "../../agent/nats/work-loop.ts";
import { EmbeddedNatsServer } from "../../coordinator/nats/embedded-nats-server.ts";
import { WorkQueue } from "../../coordinator/nats/work-queue.ts";
import type { WorkMessage } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, agentConsumerName } from "../../shared/protocol/subjects.ts";
import { startBlackholeProxy } from "../helpers/blackhole-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { pullsOpen } from "../helpers/open-pulls.ts";
import { testLog } from "../helpers/test-log.ts";
import { startWorkQueue } from "../helpers/work-queue-fixture.ts";

// Why this file exists: the soak cuts an agent's link silently (its bridge port goes down: nothing is closed, so
// neither end notices), unlike nats-work-loop-reconnect.test.ts, where the server stops and the client sees it.
// These tests cut the agent's NATS link the same way (a proxy that stops carrying bytes) and place work on the
// agent's own subject while it is cut. The last test stalls one way only (what the server sends is held, what the
// agent sends passes): the pulls' heartbeats come late on a link that still carries, as in a busy agent host.

// Long enough that a message swallowed by a stale pull (redelivered only after the ack wait) fails the test.
const ACK_WAIT_S = 30;
// A JetStream API request lost in the cut is waited on this long: far past the tests' waits, so a loop that waits
// on one fails the test whatever the load (nats.js's own default, 5 s, is what the agent uses).
const API_TIMEOUT_MS = 60_000;
const AGENT = "agt-cut";
const placed: WorkMessage = { chunkId: "chunk_placed", jobId: "job_1", dispatchId: "dsp_placed" };

/** A work queue, and an agent's WorkLoop (its own consumer and the pool) connecting through a cuttable proxy. */
async function cutFarm(t: TestContext) {
  const wq = await startWorkQueue(t, ACK_WAIT_S);
  await wq.queue.ensureAgentConsumer(AGENT);
  const proxy = await startBlackholeProxy(t, wq.url);
  // The agent's connection options (agent/agent.ts), through the proxy.
  const agentNc = await connect({ servers: proxy.address, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
  defer(t, () => agentNc.close());
  const got: WorkMessage[] = [];
  const opts = { ackWaitSeconds: ACK_WAIT_S, agentConsumer: agentConsumerName(AGENT), apiTimeoutMs: API_TIMEOUT_MS };
  const loop = new WorkLoop(agentNc, async (msg) => void got.push(msg), opts, testLog());
  defer(t, () => loop.stop());
  loop.start();
  await pullsOpen(wq.jsm, { [agentConsumerName(AGENT)]: 1, [POOL_CONSUMER]: 1 }, "the agent's pulls (its own consumer and the pool) to be open");
  return { wq, proxy, got };
}

test("a silent link cut across a NATS server restart: work placed on the agent meanwhile reaches it once the link is back", async (t) => {
  const { wq, proxy, got } = await cutFarm(t);

  // The link goes down silently; the coordinator (and so its NATS server) is restarted meanwhile, as in the soak.
  proxy.cut();
  await sleep(1_600); // the loop's open pulls fail (heartbeats missed) and it pulls again into the dead link
  await wq.server.stop();
  const again = new EmbeddedNatsServer({ dir: wq.dir, host: "127.0.0.1", port: 0, log: testLog() });
  defer(t, () => again.stop());
  const url = await again.start();
  assert.equal(url, wq.url, "the restarted server keeps its port");

  // The new coordinator places work on the agent's own subject while the link is still down.
  const nc = await connect({ servers: url });
  defer(t, () => nc.close());
  const queue = new WorkQueue(nc, { ackWaitSeconds: ACK_WAIT_S, maxDeliver: 10 });
  await queue.publish(placed, AGENT);
  await sleep(1_000);
  proxy.restore();
  assert.equal(proxy.resets, 1, "the agent's old connection is reset once the link is back (the old server is gone)");

  await eventually(() => got.length >= 1, "the placed message to reach the agent after the link is back", 20_000);
  const pool: WorkMessage = { chunkId: "chunk_pool", jobId: "job_1", dispatchId: "dsp_pool" };
  await queue.publish(pool);
  await eventually(() => got.length >= 2, "a pool message to reach the agent", 20_000);
  assert.deepEqual(got, [placed, pool]);
});

test("a silent link cut to the same server: work placed on the agent meanwhile reaches it once the link is back", async (t) => {
  const { wq, proxy, got } = await cutFarm(t);
  proxy.cut();
  await sleep(2_500); // the open pulls fail meanwhile; what the loop sent is held, as TCP would retransmit it
  await wq.queue.publish(placed, AGENT);
  await sleep(500);
  // A pull sent into the dead link would reach the server with the link's return, beside the unsubscribe of
  // its inbox: the server could hand it the placed message, lost then until the ack wait (30 s here).
  const held = proxy.heldForServer();
  assert.ok(!held.includes("CONSUMER.MSG.NEXT"), `no pull is sent while the link is cut; held: ${JSON.stringify(held.slice(0, 400))}`);
  proxy.restore();
  assert.equal(proxy.resets, 0, "the connection carries on");
  await eventually(() => got.length >= 1, "the placed message to reach the agent after the link is back", 20_000);
  assert.deepEqual(got, [placed]);
});

test("pulls given up for missed heartbeats on a link that carries: the PING goes out at once, the next pull once it is answered", async (t) => {
  const { wq, proxy, got } = await cutFarm(t);
  // What the server sends is held (the heartbeats of both open pulls come late, as in a busy agent host);
  // what the agent sends still reaches the server, so its PING is answered, held too until the stall ends.
  const sent = proxy.recordFromClient();
  proxy.stallToClient();
  const unsubs = (): number => sent.map((s) => s.text).join("").split("UNSUB").length - 1;
  await eventually(() => unsubs() >= 2, "both pulls given up (heartbeats missed)", 10_000);
  await sleep(1_000);
  await wq.queue.publish(placed, AGENT);
  const all = sent.map((s) => s.text).join("");
  const firstUnsub = sent.find((s) => s.text.includes("UNSUB")) as { atMs: number };
  const ping = sent.find((s) => s.atMs >= firstUnsub.atMs && s.text.includes("PING\r\n"));
  // main waited 500 ms after a failed pull before its PING (each test run: 500-510 ms after the UNSUB).
  assert.ok(ping !== undefined && ping.atMs - firstUnsub.atMs < 400, `the PING follows the given-up pull at once; sent: ${JSON.stringify(sent.map((s) => [Math.round(s.atMs - firstUnsub.atMs), s.text.slice(0, 60)]))}`);
  const afterUnsub = all.slice(all.indexOf("UNSUB"));
  assert.ok(!afterUnsub.includes("CONSUMER.MSG.NEXT"), `no pull goes out before the PING is answered; sent after: ${JSON.stringify(afterUnsub.slice(0, 400))}`);
  proxy.restore();
  await eventually(() => got.length >= 1, "the placed message to reach the agent once the PONG is in", 20_000);
  assert.deepEqual(got, [placed]);
});
