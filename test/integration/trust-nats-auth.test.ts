import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nkeyAuthenticator, type NatsConnection, type Status } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createUser } from "@nats-io/jwt";
import { agentConsumerName, agentInboxPrefix, agentPermissions } from "../../coordinator/trust/nats-auth-config.ts";
import { NatsOperatorKeys } from "../../coordinator/trust/nats-operator-keys.ts";
import { NatsAccountPush } from "../../coordinator/nats/nats-account-push.ts";
import { ephemeralNatsUser } from "../../coordinator/trust/nats-user-keys.ts";
import { asUser, natsServerOrUndefined, startOperatorServer } from "../helpers/nats-operator-server.ts";

// Starts a real nats-server in operator mode (the studio's operator, a full resolver); skipped when it is not installed.

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

/** An agent's credential as the coordinator issues it: a fresh user key and a JWT signed by the account with its permissions. */
async function agentUser(keys: NatsOperatorKeys, agentId: string): Promise<{ jwt: string; seed: string; publicKey: string }> {
  const pair = createUser();
  const jwt = await keys.agentJwt(agentId, pair.getPublicKey(), agentPermissions({ subjectPrefix: "ns" }, agentId));
  return { jwt, seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() };
}

test("agents reach only their own subjects and consumers; wrong keys and removed agents are shut out", async (t) => {
  const binary = natsServerOrUndefined();
  if (binary === undefined) return t.skip("nats-server is not installed");
  const dir = await mkdtemp(join(tmpdir(), "nightshift-nats-auth-"));
  const connections: NatsConnection[] = [];
  // Registered first, so it runs last: connections close, the server stops (its own hook), then the folder goes.
  t.after(() => rm(dir, { recursive: true, force: true }));
  t.after(() => Promise.allSettled(connections.map((c) => c.close())));
  const keys = await NatsOperatorKeys.open(dir);
  assert.equal((await stat(join(dir, "nats-operator", "account.nk"))).mode & 0o777, 0o600);
  const users = { coordinator: await keys.coordinatorUser(), A: await agentUser(keys, "A"), B: await agentUser(keys, "B") };
  const server = await startOperatorServer(t, { binary, dir, keys, accountJwt: await keys.accountJwt({}), name: "solo", jetstream: true });
  assert.equal((await stat(join(dir, "solo.conf"))).mode & 0o777, 0o600);
  const servers = server.url;
  const open = async (user: { jwt: string; seed: string }, extra: { inboxPrefix?: string; reconnect?: boolean } = {}) => {
    const nc = await connect({ servers, ...asUser(user), ...extra });
    connections.push(nc);
    return nc;
  };

  // The coordinator sets up the work stream and consumers, and queues one chunk for each agent.
  const coord = await open(users.coordinator);
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
  const agentA = await open(users.A, { inboxPrefix: agentInboxPrefix("A") });
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

  // A bare nkey, a user JWT from another operator's account, a user name and password, or nothing at all cannot connect.
  const nkeyOnly = { authenticator: nkeyAuthenticator(new TextEncoder().encode(ephemeralNatsUser().seed)) };
  await assert.rejects(connect({ servers, ...nkeyOnly, reconnect: false }), /Authorization/i);
  const stranger = await NatsOperatorKeys.open(join(dir, "stranger"));
  await assert.rejects(connect({ servers, ...asUser(await agentUser(stranger, "A")), reconnect: false }), /Authorization/i);
  await assert.rejects(connect({ servers, user: "A", pass: "0123456789abcdef0123", reconnect: false }), /Authorization/i);
  await assert.rejects(connect({ servers, reconnect: false }), /Authorization/i);

  // Revoking B in the account JWT and pushing it (as the coordinator does on removal) closes B's live
  // connection; A stays connected; B's credential is refused from then on.
  const agentB = await open(users.B, { reconnect: false });
  await agentB.flush();
  const push = await NatsAccountPush.open({ servers, systemUser: await keys.systemUser() });
  t.after(() => push.close());
  await push.push(await keys.accountJwt({ [users.B.publicKey]: Math.ceil(Date.now() / 1000) }));
  await eventually(() => agentB.isClosed(), "the revoked agent's connection to close");
  assert.equal(agentA.isClosed(), false);
  agentA.publish("ns.hb.A", "still-alive");
  await eventually(() => heartbeats.includes("ns.hb.A:still-alive"), "A's heartbeat after the revocation");
  await assert.rejects(connect({ servers, ...asUser(users.B), reconnect: false }), /Authorization/i);
  // Only the system account may update accounts: an agent's push is refused by the permissions in its JWT.
  const agentPush = await NatsAccountPush.open({ servers, systemUser: users.A, timeoutMs: 1500 }).catch((err: Error) => err);
  if (!(agentPush instanceof Error)) {
    t.after(() => agentPush.close());
    await assert.rejects(agentPush.push(await keys.accountJwt({})));
  }
});
