import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { checkClusterNodes, parseClusterNode, renderClusterNodeConfig, type ClusterNode } from "../../coordinator/nats/cluster-node-config.ts";
import { writeClusterNodes } from "../../coordinator/nats/write-cluster-nodes.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { clusterAuthFor } from "../../coordinator/nats/cluster-auth.ts";
import { NatsOperatorKeys } from "../../coordinator/trust/nats-operator-keys.ts";
import { isTransient, retryDuringElection } from "../../shared/nats/retry-during-election.ts";
import YAML from "yaml";
import { BUNDLED_MODELS_DIR, PROJECT_ROOT } from "../../cli/paths.ts";
import { BadInputError } from "../../shared/errors.ts";

const compile = (extra: Record<string, unknown>) => compileCoordinatorConfig({ dataDir: "/tmp/ns-x", ...extra }, BUNDLED_MODELS_DIR);
const badInput = (field: RegExp) => (e: unknown) => e instanceof BadInputError && field.test(e.message);

test("config: --nats takes a comma list; three or more URLs default to R3, one to R1, the embedded server to R1", () => {
  const cluster = compile({ nats: "nats://10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222" });
  assert.deepEqual(cluster.nats, { mode: "external", urls: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222", "nats://10.0.0.3:4222"], replicas: 3, studioAuth: false });
  assert.equal(compile({ nats: ["nats://a:4222"] }).nats.replicas, 1);
  assert.equal(compile({ nats: "nats://a:4222,nats://b:4222,nats://c:4222", natsReplicas: 1 }).nats.replicas, 1);
  assert.equal(compile({}).nats.mode, "embedded");
  assert.equal(compile({}).nats.replicas, 1);
  const owned = compile({ nats: "nats://a:4222", natsStudioAuth: true }).nats;
  assert.ok(owned.mode === "external" && owned.studioAuth);
});

test("deploy/nats-cluster/coordinator-cluster.example.yaml is a valid coordinator config pointing at three nodes, R3", () => {
  const raw = YAML.parse(readFileSync(join(PROJECT_ROOT, "deploy/nats-cluster/coordinator-cluster.example.yaml"), "utf8")) as Record<string, unknown>;
  const c = compileCoordinatorConfig(raw, BUNDLED_MODELS_DIR).nats;
  assert.ok(c.mode === "external" && c.urls.length === 3 && c.replicas === 3 && c.studioAuth);
});

test("config: bad NATS settings are refused naming the field", () => {
  assert.throws(() => compile({ nats: "http://a:80" }), badInput(/^nats: /));
  assert.throws(() => compile({ nats: " , " }), badInput(/^nats: /));
  assert.throws(() => compile({ natsStudioAuth: true }), badInput(/natsStudioAuth: only with nats/));
  // The nkey users file of an older `nats-cluster init` is refused with what replaced it.
  assert.throws(() => compile({ nats: "nats://a:4222", natsUsersFile: "users.conf" }), badInput(/natsUsersFile: .*nats-cluster init.*natsStudioAuth/));
  assert.throws(() => compile({ natsReplicas: 3 }), badInput(/natsReplicas/));
  assert.throws(() => compile({ nats: "nats://a:4222", natsReload: ["sh"] }), badInput(/natsReload: .*natsStudioAuth/));
  assert.throws(() => compile({ nats: "nats://a:4222", natsReplicas: 7 }), badInput(/natsReplicas/));
});

const nodes: ClusterNode[] = [
  { name: "n1", host: "10.0.0.1", clientPort: 4222, routePort: 6222 },
  { name: "n2", host: "10.0.0.2", clientPort: 4222, routePort: 6222 },
  { name: "n3", host: "10.0.0.3", clientPort: 4222, routePort: 6222 },
];

test("node config: routes to the other nodes only, TLS on clients and routes, the studio operator's resolver block", () => {
  const input = {
    node: nodes[1] as ClusterNode,
    peers: nodes,
    listenHost: "0.0.0.0",
    clusterName: "studio",
    storeDir: "/var/lib/nats/n2",
    pidFile: "/run/n2.pid",
    tls: { certFile: "/t/n2.crt", keyFile: "/t/n2.key", caFile: "/t/ca.crt" },
    routePassword: "pw_1",
    auth: "operator: AUTH_BLOCK",
  };
  const text = renderClusterNodeConfig(input);
  assert.match(text, /server_name: "n2"/);
  assert.match(text, /listen: "0\.0\.0\.0:4222"/);
  assert.match(text, /routes: \["nats-route:\/\/nightshift-route:pw_1@10\.0\.0\.1:6222", "nats-route:\/\/nightshift-route:pw_1@10\.0\.0\.3:6222"\]/);
  assert.doesNotMatch(text, /10\.0\.0\.2:6222"/, "no route to itself");
  assert.equal(text.match(/cert_file: "\/t\/n2\.crt"/g)?.length, 2, "client port and routes both use TLS");
  assert.match(text, /verify: true/);
  assert.match(text, /\noperator: AUTH_BLOCK\n/);
  assert.doesNotMatch(text, /include|authorization \{ users/, "no users file");
  assert.throws(() => renderClusterNodeConfig({ ...input, routePassword: "a b\"" }), badInput(/route password/));
});

test("node list: names, addresses and ports are checked; --node parses NAME=IP[:CLIENT[:ROUTE]]", () => {
  assert.throws(() => checkClusterNodes([nodes[0] as ClusterNode, { ...(nodes[1] as ClusterNode), name: "n1" }]), badInput(/used twice/));
  assert.throws(() => checkClusterNodes([{ ...(nodes[0] as ClusterNode), routePort: 4222 }]), badInput(/used twice/));
  assert.throws(() => checkClusterNodes([{ ...(nodes[0] as ClusterNode), host: "nas.local" }]), badInput(/not an IP/));
  assert.deepEqual(parseClusterNode("n1=10.0.0.1"), { name: "n1", host: "10.0.0.1", clientPort: 4222, routePort: 6222 });
  assert.deepEqual(parseClusterNode("b=[::1]:5000:5001"), { name: "b", host: "::1", clientPort: 5000, routePort: 5001 });
  assert.throws(() => parseClusterNode("n1=10.0.0.1:99999"), badInput(/clientPort/));
});

test("writeClusterNodes: 0600 files, node certificates from the studio CA for server and client use, the studio's operator with a resolver folder per node", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ns-cluster-unit-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await StudioCa.open(join(dir, "ca"));
  const data = join(dir, "data");
  const w = await writeClusterNodes({ ca, dir: join(dir, "out"), nodes, auth: await clusterAuthFor(data) });
  const keys = await NatsOperatorKeys.open(data);
  assert.deepEqual(w.urls, ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222", "nats://10.0.0.3:4222"]);
  for (const f of w.configs) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  const cert = new X509Certificate(readFileSync(join(dir, "out", "tls", "n2.crt")));
  assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)), "signed by the studio CA");
  assert.ok(cert.checkIP("10.0.0.2"), "the node's own IP");
  assert.ok(cert.checkHost("coordinator.nightshift.internal"), "the name agents check");
  assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], "server and client auth (routes verify both ways)");
  w.configs.forEach((f, i) => {
    const text = readFileSync(f, "utf8");
    assert.match(text, new RegExp(`system_account: ${keys.systemAccountPublicKey}`), "the coordinator's system account");
    assert.match(text, new RegExp(`  ${keys.accountPublicKey}: "ey`), "the nightshift account preloaded");
    assert.ok(text.includes(`dir: ${JSON.stringify(w.resolverDirs[i])}`), "the node's own resolver folder");
    assert.equal(statSync(w.resolverDirs[i] as string).mode & 0o777, 0o700);
  });
  assert.equal(new Set(w.resolverDirs).size, 3);
});

test("retryDuringElection: transient errors are retried until the call works; refusals are thrown at once; bounded in time", async () => {
  let calls = 0;
  const value = await retryDuringElection(async () => {
    if (++calls < 3) throw new Error("TIMEOUT");
    return 42;
  });
  assert.deepEqual([value, calls], [42, 3]);
  calls = 0;
  await assert.rejects(
    retryDuringElection(async () => {
      calls++;
      throw new Error("Permissions Violation for Publish to ns.work.pool");
    }),
    /Permissions/,
  );
  assert.equal(calls, 1);
  const t0 = Date.now();
  await assert.rejects(retryDuringElection(async () => Promise.reject(new Error("503")), { withinMs: 300 }), /503/);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(isTransient(new Error("JetStream system temporarily unavailable")), true);
  assert.equal(isTransient(new Error("maximum payload exceeded")), false);
});
