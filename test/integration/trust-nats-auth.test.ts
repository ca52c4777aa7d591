import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Status } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  agentConsumerName,
  agentInboxPrefix,
  renderNatsServerConfig,
  type NatsServerConfigInput,
} from "../../coordinator/trust/nats-auth-config.ts";
import { writeNatsConfigFile } from "../../coordinator/trust/nats-config-file.ts";
import { ephemeralNatsUser } from "../../coordinator/trust/nats-user-keys.ts";
import { nkeyAuthenticator } from "@nats-io/nats-core";

// Starts a real nats-server with the rendered config; skipped when it is not installed.

function natsServerBinary(): string | undefined {
  for (const candidate of ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]) {
    if (spawnSync(candidate, ["--version"]).status === 0) return candidate;
  }
  return undefined;
}

/** Starts nats-server on `-c file` (port -1: the server picks a free one) and reads the port from its log. */
async function startNatsServer(binary: string, configPath: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(binary, ["-c", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.setEncoding("utf8");
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 10_000);
    child.stderr?.on("data", (chunk: string) => {
      log += chunk;
      const match = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => reject(new Error(`nats-server exited ${code}: ${log}`)));
  });
  return { child, port };
}

function statusErrors(nc: NatsConnection): Error[] {
  const errors: Error[] = [];
  void (async () => {
    for await (const s of nc.status() as AsyncIterable<Status>) if (s.type === "error") errors.push(s.error);
  })();
  return errors;
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("agents reach only their own subjects and consumers; wrong keys and removed agents are shut out", async (t) => {
  const binary = natsServerBinary();
  if (binary === undefined) return t.skip("nats-server is not installed");
  const dir = await mkdtemp(join(tmpdir(), "nightshift-nats-auth-"));
  const configPath = join(dir, "nats.conf");
  const users = { coordinator: ephemeralNatsUser(), A: ephemeralNatsUser(), B: ephemeralNatsUser() };
  const input: NatsServerConfigInput = {
    port: -1,
    storeDir: join(dir, "js"),
    subjectPrefix: "ns",
    coordinator: { nkey: users.coordinator.publicKey },
    agents: [
      { agentId: "A", nkey: users.A.publicKey },
      { agentId: "B", nkey: users.B.publicKey },
    ],
  };
  const as = (seed: string) => ({ authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) });
  await writeNatsConfigFile(configPath, renderNatsServerConfig(input));
  assert.equal((await stat(configPath)).mode & 0o777, 0o600);
  const server = await startNatsServer(binary, configPath);
  const connections: NatsConnection[] = [];
  t.after(async () => {
    await Promise.allSettled(connections.map((c) => c.close()));
    if (server.child.exitCode === null && server.child.pid !== undefined) {
      process.kill(server.child.pid, "SIGTERM");
      await once(server.child, "exit");
    }
    await rm(dir, { recursive: true, force: true });
  });
  const servers = `127.0.0.1:${server.port}`;
  const open = async (seed: string, extra: { inboxPrefix?: string; reconnect?: boolean } = {}) => {
    const nc = await connect({ servers, ...as(seed), ...extra });
    connections.push(nc);
    return nc;
  };

  // The coordinator sets up the work stream and consumers, and queues one chunk for each agent.
  const coord = await open(users.coordinator.seed);
  const jsm = await jetstreamManager(coord);
  await jsm.streams.add({ name: "NS_WORK", subjects: ["ns.work.>"] });
  for (const id of ["A", "B"]) {
    await jsm.consumers.add("NS_WORK", { durable_name: agentConsumerName(id), ack_policy: AckPolicy.Explicit, filter_subject: `ns.work.agent.${id}` });
  }
  await jsm.consumers.add("NS_WORK", { durable_name: "pool", ack_policy: AckPolicy.Explicit, filter_subject: "ns.work.pool" });
  const js = jetstream(coord);
  await js.publish("ns.work.agent.A", "chunk-for-A");
  await js.publish("ns.work.agent.B", "chunk-for-B");
  await js.publish("ns.work.pool", "chunk-for-anyone");
  const heartbeats: string[] = [];
  coord.subscribe("ns.hb.>", { callback: (_err, msg) => {
      heartbeats.push(`${msg.subject}:${msg.string()}`);
    },
  });
  coord.subscribe("ns.ctl.>", { callback: () => undefined });
  await coord.flush();

  // Agent A publishes its own heartbeat, and is refused B's.
  const agentA = await open(users.A.seed, { inboxPrefix: agentInboxPrefix("A") });
  const errorsA = statusErrors(agentA);
  agentA.publish("ns.hb.A", "alive");
  agentA.publish("ns.hb.B", "forged");
  agentA.publish("ns.telemetry.A", "watts");
  await agentA.flush();
  await eventually(() => heartbeats.length >= 1 && errorsA.length >= 1, "A's heartbeat and the violation");
  await coord.flush();
  assert.deepEqual(heartbeats, ["ns.hb.A:alive"]);
  assert.ok(errorsA.some((e) => /Permissions Violation for Publish to "ns\.hb\.B"/i.test(e.message)), String(errorsA));

  // A pulls and acks from its own consumer and from the pool.
  const jsA = jetstream(agentA);
  const mine = await (await jsA.consumers.get("NS_WORK", agentConsumerName("A"))).next({ expires: 2000 });
  assert.equal(mine?.string(), "chunk-for-A");
  mine?.working(); // progress acks while rendering, then the final ack: more than one reply to one message
  mine?.working();
  assert.equal(await mine?.ackAck(), true);
  const pooled = await (await jsA.consumers.get("NS_WORK", "pool")).next({ expires: 2000 });
  assert.equal(pooled?.string(), "chunk-for-anyone");
  assert.equal(await pooled?.ackAck(), true);
  assert.equal((await jsm.consumers.info("NS_WORK", agentConsumerName("A"))).num_ack_pending, 0);

  // ... but cannot look at, pull from, or sniff B's work.
  await assert.rejects(jsA.consumers.get("NS_WORK", agentConsumerName("B")));
  agentA.publish(`$JS.API.CONSUMER.MSG.NEXT.NS_WORK.${agentConsumerName("B")}`, JSON.stringify({ batch: 1 }), {
    reply: `${agentInboxPrefix("A")}.steal`,
  });
  const sniff = agentA.subscribe("_INBOX.>");
  await agentA.flush();
  await eventually(() => errorsA.some((e) => /Subscription to "_INBOX\.>"/i.test(e.message)), "the _INBOX.> violation");
  await sniff.closed.catch(() => undefined);
  const infoB = await jsm.consumers.info("NS_WORK", agentConsumerName("B"));
  assert.equal(infoB.delivered.consumer_seq, 0, "B's chunk was never delivered to anyone");
  assert.equal(infoB.num_pending, 1);
  await assert.rejects(jsA.publish("ns.work.pool", "injected"), "agents cannot queue work");

  // Nor listen to B's control subject: the server refuses the subscription, and B's commands never reach A.
  const eavesdrop: string[] = [];
  agentA.subscribe("ns.ctl.B", { callback: (err, msg) => void (err === null && eavesdrop.push(msg.string())) });
  await agentA.flush();
  await eventually(() => errorsA.some((e) => /Permissions Violation for Subscription to "ns\.ctl\.B"/i.test(e.message)), "the ns.ctl.B violation");
  coord.publish("ns.ctl.B", "drain-B");
  await coord.flush();
  await agentA.flush();
  assert.deepEqual(eavesdrop, [], "A never saw B's control message");

  // The coordinator's control requests reach A, and A may answer them.
  agentA.subscribe("ns.ctl.A", {
    callback: (_err, msg) => {
      msg.respond("ack-from-A");
    },
  });
  await agentA.flush();
  assert.equal((await coord.request("ns.ctl.A", "drain", { timeout: 2000 })).string(), "ack-from-A");

  // An unknown key, a user name and password, or nothing at all cannot connect.
  await assert.rejects(connect({ servers, ...as(ephemeralNatsUser().seed), reconnect: false }), /Authorization/i);
  await assert.rejects(connect({ servers, user: "A", pass: "0123456789abcdef0123", reconnect: false }), /Authorization/i);
  await assert.rejects(connect({ servers, reconnect: false }), /Authorization/i);

  // Removing B from the config and reloading closes B's live connection; A stays connected.
  const agentB = await open(users.B.seed, { reconnect: false });
  await agentB.flush();
  await writeNatsConfigFile(configPath, renderNatsServerConfig({ ...input, agents: [input.agents[0]!] }));
  process.kill(server.child.pid!, "SIGHUP");
  await eventually(() => agentB.isClosed(), "the removed agent's connection to close");
  assert.equal(agentA.isClosed(), false);
  agentA.publish("ns.hb.A", "still-alive");
  await eventually(() => heartbeats.includes("ns.hb.A:still-alive"), "A's heartbeat after the reload");
  await assert.rejects(connect({ servers, ...as(users.B.seed), reconnect: false }), /Authorization/i);
});
