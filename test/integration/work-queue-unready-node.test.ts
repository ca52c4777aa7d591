// The coordinator's work queue on a connection that landed on a NATS server whose JetStream does not answer, with
// another server to go to. A cluster node just back from a kill answers no JetStream call until it has caught up
// (nats.js: "jetstream is not enabled", its word for no responders); here a real nats-server started without
// JetStream stands in for it: its JetStream API has no responders either, which is what the client sees. The other
// is a real nats-server with JetStream.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect as tcpConnect } from "node:net";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { WorkQueue } from "../../coordinator/nats/work-queue.ts";
import { findNatsServer } from "../../shared/nats/find-nats-server.ts";
import { defer } from "../helpers/defer.ts";
import { startNats } from "../helpers/nats.ts";
import { freePort } from "../support/free-port.ts";

/** A nats-server without JetStream on a free loopback port; ended by its pid when the test ends. */
async function startServerWithoutJetStream(t: TestContext): Promise<string> {
  const port = await freePort();
  const child = spawn(findNatsServer(), ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  defer(t, () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, "127.0.0.1", () => resolve(true)).on("error", () => resolve(false));
      s.on("connect", () => s.destroy());
    });
    if (up) return `nats://127.0.0.1:${port}`;
    await sleep(50);
  }
  throw new Error("nats-server without JetStream did not start");
}

test("a work queue whose connection landed on a server whose JetStream does not answer moves to another server and sets up its stream there", { timeout: 60_000 }, async (t) => {
  const unready = await startServerWithoutJetStream(t);
  const ready = await startNats(t);
  // In this order, not shuffled: the connection lands on the server without JetStream.
  const nc = await connect({ servers: [unready, ready.url], noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  defer(t, () => nc.close());
  assert.equal(`nats://${nc.getServer()}`, unready);
  const left: string[] = [];
  // Retries bounded well under the test's timeout: without the move, every retry meets the same server.
  const queue = new WorkQueue(nc, { ackWaitSeconds: 30, maxDeliver: 5, retry: { withinMs: 8_000 }, servers: { count: 2, onLeft: (err) => left.push(err.message) } });

  const startedAt = performance.now();
  await queue.ensure();
  t.diagnostic(`stream set up ${(performance.now() - startedAt).toFixed(0)} ms after the first call, having left the first server ${left.length} time(s)`);
  assert.deepEqual(left, ["jetstream is not enabled"]);
  assert.equal(`nats://${nc.getServer()}`, ready.url, "on the server whose JetStream answers");
  // The stream is there and takes work.
  const seq = await queue.publish({ chunkId: "chunk_1", jobId: "job_1", dispatchId: "dsp_1" });
  assert.ok(seq > 0);
});

test("with one server to go to, a work queue does not leave it", { timeout: 60_000 }, async (t) => {
  const unready = await startServerWithoutJetStream(t);
  const nc = await connect({ servers: [unready], maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  defer(t, () => nc.close());
  let reconnects = 0;
  void (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") reconnects++;
  })();
  const left: string[] = [];
  const queue = new WorkQueue(nc, { ackWaitSeconds: 30, maxDeliver: 5, retry: { withinMs: 1_500 }, servers: { count: 1, onLeft: (err) => left.push(err.message) } });
  await assert.rejects(queue.ensure(), /jetstream is not enabled/);
  assert.deepEqual(left, []);
  assert.equal(reconnects, 0);
});
