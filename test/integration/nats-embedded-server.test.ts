import assert from "node:assert/strict";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { WorkQueue } from "../../coordinator/nats/work-queue.ts";
import { encodeJson } from "../../shared/protocol/messages.ts";
import { POOL_CONSUMER, WORK_STREAM, agentConsumerName } from "../../shared/protocol/subjects.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startNats } from "../helpers/nats.ts";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Recursively finds directories named `name` under `root`. */
function findDirs(root: string, name: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(root, e.name);
    if (e.name === name) out.push(p);
    out.push(...findDirs(p, name));
  }
  return out;
}

test("the embedded server starts on an ephemeral loopback port with JetStream stored in its dir", async (t) => {
  const { server, url, dir } = await startNats(t);
  const port = Number(new URL(url).port);
  assert.ok(port > 0 && port !== 4222, `an ephemeral port was chosen (${port})`);
  assert.equal(new URL(url).hostname, "127.0.0.1");
  assert.ok(server.pid !== undefined && alive(server.pid));

  const nc = await connect({ servers: url });
  defer(t, () => nc.close());
  const queue = new WorkQueue(nc, { ackWaitSeconds: 2, maxDeliver: 5 });
  await queue.ensure();
  await queue.publish({ chunkId: "c1", jobId: "j1", dispatchId: "dsp_1" });
  const info = await (await jetstreamManager(nc)).streams.info(WORK_STREAM);
  assert.equal(info.config.storage, StorageType.File);
  assert.equal(info.state.messages, 1);
  assert.equal(findDirs(join(dir, "jetstream"), WORK_STREAM).length, 1, "the stream's files live under <dir>/jetstream");
});

test("WorkQueue.ensure creates the work stream and pool consumer, idempotently; publishes are deduplicated by dispatch id", async (t) => {
  const { url } = await startNats(t);
  const nc = await connect({ servers: url });
  defer(t, () => nc.close());
  const queue = new WorkQueue(nc, { prefix: "farm1", ackWaitSeconds: 7, maxDeliver: 9 });
  await queue.ensure();
  await queue.ensure(); // a coordinator restart

  const jsm = await jetstreamManager(nc);
  const stream = await jsm.streams.info(WORK_STREAM);
  assert.deepEqual(stream.config.subjects, ["farm1.work.>"]);
  assert.equal(stream.config.retention, RetentionPolicy.Workqueue);
  assert.equal(stream.config.duplicate_window, 120 * 1e9);
  const pool = await jsm.consumers.info(WORK_STREAM, POOL_CONSUMER);
  assert.equal(pool.config.durable_name, POOL_CONSUMER);
  assert.equal(pool.config.filter_subject, "farm1.work.pool");
  assert.equal(pool.config.ack_policy, AckPolicy.Explicit);
  assert.equal(pool.config.ack_wait, 7 * 1e9);
  assert.equal(pool.config.max_deliver, 9);

  await queue.ensureAgentConsumer("agt_x");
  const placed = await jsm.consumers.info(WORK_STREAM, agentConsumerName("agt_x"));
  assert.equal(placed.config.filter_subject, "farm1.work.agent.agt_x");

  await queue.publish({ chunkId: "c1", jobId: "j1", dispatchId: "dsp_same" });
  await queue.publish({ chunkId: "c1", jobId: "j1", dispatchId: "dsp_same" }); // retried publish
  await queue.publish({ chunkId: "c2", jobId: "j1", dispatchId: "dsp_other" }, "agt_x");
  assert.equal((await jsm.streams.info(WORK_STREAM)).state.messages, 2);
  assert.equal((await jsm.consumers.info(WORK_STREAM, POOL_CONSUMER)).num_pending, 1);
  assert.equal((await jsm.consumers.info(WORK_STREAM, agentConsumerName("agt_x"))).num_pending, 1);
});

test("supervision: a SIGKILLed nats-server is restarted on the same port and clients carry on", async (t) => {
  const { server, url } = await startNats(t);
  const nc: NatsConnection = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  defer(t, () => nc.close());
  const queue = new WorkQueue(nc, { ackWaitSeconds: 2, maxDeliver: 5 });
  await queue.ensure();
  const firstPid = server.pid!;

  const restarted = once(server, "restarted");
  process.kill(firstPid, "SIGKILL");
  const giveUp = new AbortController();
  const [newUrl] = (await Promise.race([restarted, sleep(10_000, undefined, { signal: giveUp.signal }).then(() => assert.fail("no restart within 10 s"))])) as [string];
  giveUp.abort();
  assert.equal(newUrl, url, "same host and port");
  assert.ok(server.pid !== undefined && server.pid !== firstPid, "a new process");
  assert.ok(alive(server.pid));
  assert.equal(alive(firstPid), false);

  // The same connection reconnects and JetStream works again (the stream survived on disk).
  const js = jetstream(nc);
  await eventually(async () => {
    try {
      await js.publish("ns.work.pool", new TextEncoder().encode(JSON.stringify({ chunkId: "c9", jobId: "j9", dispatchId: "dsp_after" })), { msgID: "dsp_after", timeout: 500 });
      return true;
    } catch {
      return false;
    }
  }, "a JetStream publish after the restart", 8000, 100);
  const info = await (await jetstreamManager(nc)).streams.info(WORK_STREAM);
  assert.ok(info.state.messages >= 1);
});

test("stop() ends the process, does not trigger a restart, and is safe to call twice", async (t) => {
  const { server } = await startNats(t);
  const pid = server.pid!;
  let restarts = 0;
  server.on("restarted", () => restarts++);
  await server.stop();
  await server.stop();
  assert.equal(alive(pid), false);
  assert.equal(server.pid, undefined);
  await sleep(400); // longer than the first restart back-off
  assert.equal(restarts, 0);
  assert.equal(server.pid, undefined);
});

test("WorkQueue.ensure brings a work stream left by an earlier version with another config to this one's, keeping its messages", async (t) => {
  const { url } = await startNats(t);
  const nc = await connect({ servers: url });
  defer(t, () => nc.close());
  const jsm = await jetstreamManager(nc);
  // An earlier coordinator's stream: a shorter duplicate window, one message queued.
  await jsm.streams.add({ name: WORK_STREAM, subjects: ["farm1.work.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: 30 * 1e9 });
  await jetstream(nc).publish("farm1.work.pool", encodeJson({ chunkId: "c1", jobId: "j1", dispatchId: "d1" }));

  const queue = new WorkQueue(nc, { prefix: "farm1", ackWaitSeconds: 7, maxDeliver: 9 });
  await queue.ensure();
  const stream = await jsm.streams.info(WORK_STREAM);
  assert.equal(stream.config.duplicate_window, 120 * 1e9, "brought to this version's config");
  assert.equal(stream.state.messages, 1, "its queued message kept");
});
