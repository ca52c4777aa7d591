import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createUser } from "@nats-io/jwt";
import { agentInboxPrefix, agentPermissions } from "../../coordinator/trust/nats-auth-config.ts";
import { NatsOperatorKeys } from "../../coordinator/trust/nats-operator-keys.ts";
import { NatsAccountPush } from "../../coordinator/nats/nats-account-push.ts";
import { asUser, freeLoopbackPort, natsServerOrUndefined, startOperatorServer, type OperatorServer } from "../helpers/nats-operator-server.ts";
import { eventually } from "../helpers/eventually.ts";
import { defer } from "../helpers/defer.ts";
import { tempDir } from "../helpers/temp-dir.ts";

// Three real nats-servers on loopback, routed into one cluster, each with its own full resolver: a revocation
// pushed to one server shuts the removed agent out of all three, live connections included.

/** Three routed servers' settings (operator keys, route ports); start(i) starts node i with the account JWT that has no revocations. */
async function routedCluster(t: TestContext): Promise<{ keys: NatsOperatorKeys; start: (i: number) => Promise<OperatorServer> } | undefined> {
  const binary = natsServerOrUndefined();
  if (binary === undefined) return undefined;
  const dir = tempDir(t, "nightshift-nats-cluster-");
  const keys = await NatsOperatorKeys.open(dir);
  const accountJwt = await keys.accountJwt({});
  const routes = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
  return { keys, start: (i) => startOperatorServer(t, { binary, dir, keys, accountJwt, name: `n${i + 1}`, cluster: { port: routes[i] as number, routes } }) };
}

test("a revocation pushed to one server of a 3-node cluster closes the agent's connections on every server and every server refuses it", async (t) => {
  const cluster = await routedCluster(t);
  if (cluster === undefined) return t.skip("nats-server is not installed");
  const { keys, start } = cluster;
  const nodes = [await start(0), await start(1), await start(2)];
  const conns: NatsConnection[] = [];
  defer(t, () => Promise.allSettled(conns.map((c) => c.close())).then(() => undefined));
  const open = async (servers: string, user: { jwt: string; seed: string }, inboxPrefix?: string) => {
    const nc = await connect({ servers, ...asUser(user), reconnect: false, ...(inboxPrefix ? { inboxPrefix } : {}) });
    conns.push(nc);
    return nc;
  };
  const agent = (id: string) => {
    const pair = createUser();
    return keys.agentJwt(id, pair.getPublicKey(), agentPermissions({ subjectPrefix: "ns" }, id)).then((jwt) => ({ jwt, seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() }));
  };
  const A = await agent("A");
  const B = await agent("B");

  // The routes are up when a control message published on n1 reaches B's subscriptions on n2 and n3.
  const coord = await open(nodes[0]!.url, await keys.coordinatorUser());
  const bConns = [await open(nodes[1]!.url, B, agentInboxPrefix("B")), await open(nodes[2]!.url, B, agentInboxPrefix("B"))];
  const aConn = await open(nodes[0]!.url, A, agentInboxPrefix("A"));
  const seen = new Set<number>();
  bConns.forEach((nc, i) => nc.subscribe("ns.ctl.B", { callback: () => void seen.add(i) }));
  await Promise.all(bConns.map((nc) => nc.flush()));
  await eventually(async () => {
    coord.publish("ns.ctl.B", "ping");
    await coord.flush();
    return seen.size === 2;
  }, "the cluster's routes to carry n1's message to n2 and n3", 20_000, 200);

  // The coordinator pushes the revocation to n1 only.
  const push = await NatsAccountPush.open({ servers: nodes[0]!.url, systemUser: await keys.systemUser() });
  defer(t, () => push.close());
  await push.push(await keys.accountJwt({ [B.publicKey]: Math.ceil(Date.now() / 1000) }));

  await eventually(() => bConns.every((nc) => nc.isClosed()), "B's connections on n2 and n3 to close", 10_000);
  for (const node of nodes) {
    await assert.rejects(connect({ servers: node.url, ...asUser(B), reconnect: false }), /Authorization/i, `${node.url} refuses B`);
  }
  // A, on another server, is untouched and still reachable across the cluster.
  assert.equal(aConn.isClosed(), false);
  const onN3 = await open(nodes[2]!.url, A, agentInboxPrefix("A"));
  assert.equal(onN3.isClosed(), false);
});

test("a server that was down while a revocation was pushed refuses the agent once it is back, though it preloads the older account JWT", async (t) => {
  const cluster = await routedCluster(t);
  if (cluster === undefined) return t.skip("nats-server is not installed");
  const { keys, start } = cluster;
  const nodes = [await start(0), await start(1), await start(2)];
  const pair = createUser();
  const B = { jwt: await keys.agentJwt("B", pair.getPublicKey(), agentPermissions({ subjectPrefix: "ns" }, "B")), seed: new TextDecoder().decode(pair.getSeed()) };
  await (await connect({ servers: nodes[2]!.url, ...asUser(B), reconnect: false })).close();

  // n3 goes down; the revocation is pushed to n1 while it is away.
  nodes[2]!.child.kill("SIGTERM");
  await new Promise((resolve) => nodes[2]!.child.once("exit", resolve));
  const push = await NatsAccountPush.open({ servers: nodes[0]!.url, systemUser: await keys.systemUser() });
  defer(t, () => push.close());
  await push.push(await keys.accountJwt({ [pair.getPublicKey()]: Math.ceil(Date.now() / 1000) }));

  // n3 comes back with its config unchanged (the old account JWT preloaded); its full resolver catches up from the others.
  const backAt = Date.now();
  const n3 = await start(2);
  let refused = false;
  await eventually(
    async () => {
      const nc = await connect({ servers: n3.url, ...asUser(B), reconnect: false }).catch(() => undefined);
      if (nc === undefined) return (refused = true);
      await nc.close();
      return false;
    },
    "the restarted n3 to refuse the revoked agent",
    30_000,
    250,
  );
  assert.ok(refused);
  t.diagnostic(`restarted n3 refused the revoked agent ${((Date.now() - backAt) / 1000).toFixed(1)} s after it started`);
});
