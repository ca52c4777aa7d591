import assert from "node:assert/strict";
import { test } from "node:test";
import {
  agentPermissions,
  renderNatsServerConfig,
  type NatsServerConfigInput,
} from "../../coordinator/trust/nats-auth-config.ts";
import { ephemeralNatsUser, publicKeyOfSeed } from "../../coordinator/trust/nats-user-keys.ts";
import { BadInputError } from "../../shared/errors.ts";

const COORD = ephemeralNatsUser().publicKey;
const KEY = ephemeralNatsUser().publicKey;

const base: NatsServerConfigInput = {
  port: 4222,
  storeDir: "/var/lib/nightshift/js",
  subjectPrefix: "ns",
  coordinator: { nkey: COORD },
  agents: [{ agentId: "gpu-1", nkey: KEY }],
};

test("an agent may publish only its heartbeat, telemetry and its consumers' pull/info/ack subjects", () => {
  assert.deepEqual(agentPermissions({ subjectPrefix: "studio.ns" }, "gpu-1"), {
    publish: [
      "studio.ns.hb.gpu-1",
      "studio.ns.telemetry.gpu-1",
      "$JS.API.CONSUMER.INFO.NS_WORK.agent-gpu-1",
      "$JS.API.CONSUMER.MSG.NEXT.NS_WORK.agent-gpu-1",
      "$JS.ACK.NS_WORK.agent-gpu-1.>",
      "$JS.API.CONSUMER.INFO.NS_WORK.pool",
      "$JS.API.CONSUMER.MSG.NEXT.NS_WORK.pool",
      "$JS.ACK.NS_WORK.pool.>",
    ],
    subscribe: ["studio.ns.ctl.gpu-1", "_INBOX_gpu-1.>"],
  });
  const custom = agentPermissions({ subjectPrefix: "ns", stream: "WORK2", poolConsumer: "shared" }, "b");
  assert.ok(custom.publish.includes("$JS.API.CONSUMER.MSG.NEXT.WORK2.shared"));
  assert.ok(custom.publish.includes("$JS.ACK.WORK2.agent-b.>"));
});

test("the rendered config: listen address, JetStream store, a full-permission coordinator, restricted agents", () => {
  const text = renderNatsServerConfig({ ...base, host: "0.0.0.0", serverName: "studio-1" });
  assert.match(text, /^listen: "0\.0\.0\.0:4222"$/m);
  assert.match(text, /^server_name: "studio-1"$/m);
  assert.match(text, /^jetstream \{\n {2}store_dir: "\/var\/lib\/nightshift\/js"\n\}$/m);
  assert.match(text, new RegExp(`nkey: "${COORD}"\\n\\s+permissions: \\{ publish: \\{ allow: \\[">"\\] \\}, subscribe: \\{ allow: \\[">"\\] \\} \\}`));
  assert.match(text, new RegExp(`nkey: "${KEY}"[\\s\\S]+publish: \\{ allow: \\["ns\\.hb\\.gpu-1", `));
  assert.doesNotMatch(text, /password|user:/, "no secrets and no names: public keys only");
  assert.match(text, /subscribe: \{ allow: \["ns\.ctl\.gpu-1", "_INBOX_gpu-1\.>"\] \}\n\s+allow_responses: true/);
  assert.doesNotMatch(text, /^tls/m);
  assert.equal(renderNatsServerConfig(base), renderNatsServerConfig(base), "pure: same input, same text");
  assert.match(renderNatsServerConfig(base), /^listen: "127\.0\.0\.1:4222"$/m, "loopback unless told otherwise");
  assert.match(renderNatsServerConfig({ ...base, agents: [] }), /users: \[\n {4}\{\n {6}nkey: "U[A-Z2-7]{55}"[\s\S]*\n {2}\]\n\}\n$/);
});

test("TLS block when asked, with client verification only on request", () => {
  const text = renderNatsServerConfig({ ...base, tls: { certFile: "/d/server.crt", keyFile: "/d/server.key", caFile: "/d/ca.crt" } });
  assert.match(text, /tls \{\n {2}cert_file: "\/d\/server\.crt"\n {2}key_file: "\/d\/server\.key"\n {2}ca_file: "\/d\/ca\.crt"\n {2}verify: false\n\}/);
  const verified = renderNatsServerConfig({ ...base, tls: { certFile: "c", keyFile: "k", verifyClients: true } });
  assert.match(verified, /verify: true/);
  assert.doesNotMatch(verified, /ca_file/);
});

test("paths with quotes or backslashes are quoted safely", () => {
  const text = renderNatsServerConfig({ ...base, storeDir: 'C:\\night "shift"' });
  assert.match(text, /store_dir: "C:\\\\night \\"shift\\""/);
});

test("bad input is refused naming the field", () => {
  const field = (f: string) => (e: unknown) => e instanceof BadInputError && e.field === f;
  assert.throws(() => renderNatsServerConfig({ ...base, port: 70000 }), field("nats.port"));
  assert.throws(() => renderNatsServerConfig({ ...base, subjectPrefix: "ns.>" }), field("nats.subjectPrefix"));
  assert.throws(() => renderNatsServerConfig({ ...base, subjectPrefix: "" }), field("nats.subjectPrefix"));
  assert.throws(() => renderNatsServerConfig({ ...base, stream: "NS WORK" }), field("nats.stream"));
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "a.b", nkey: KEY }] }), field("agentId"));
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "a*", nkey: KEY }] }), field("agentId"));
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "x", nkey: "short" }] }), field("nats.nkey"));
  const seed = ephemeralNatsUser().seed;
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "x", nkey: seed }] }), field("nats.nkey"), "a seed is never written to the config");
  assert.throws(
    () => renderNatsServerConfig({ ...base, agents: [{ agentId: "x", nkey: COORD }] }),
    field("agents"),
    "an agent cannot take the coordinator's key",
  );
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [base.agents[0]!, base.agents[0]!] }), field("agents"));
});

test("generated user keys are accepted by the renderer, differ, and their seeds give back their public keys", () => {
  const a = ephemeralNatsUser();
  assert.match(a.seed, /^SU[A-Z2-7]{56}$/);
  assert.equal(publicKeyOfSeed(a.seed), a.publicKey);
  assert.notEqual(a.publicKey, ephemeralNatsUser().publicKey);
  assert.equal(publicKeyOfSeed("SUnot-a-seed"), undefined);
  assert.doesNotThrow(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "x", nkey: a.publicKey }] }));
});
