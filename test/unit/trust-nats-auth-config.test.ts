import assert from "node:assert/strict";
import { test } from "node:test";
import {
  agentPermissions,
  renderNatsServerConfig,
  type NatsServerConfigInput,
} from "../../coordinator/trust/nats-auth-config.ts";
import { newNatsPassword } from "../../coordinator/trust/nats-config-file.ts";
import { BadInputError } from "../../shared/errors.ts";

const PW = "0123456789abcdefABCDEF_-";

const base: NatsServerConfigInput = {
  port: 4222,
  storeDir: "/var/lib/nightshift/js",
  subjectPrefix: "ns",
  coordinator: { user: "coordinator", password: PW },
  agents: [{ agentId: "gpu-1", password: PW }],
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
  assert.match(text, /user: "coordinator"\n\s+password: "0123456789abcdefABCDEF_-"\n\s+permissions: \{ publish: \{ allow: \[">"\] \}, subscribe: \{ allow: \[">"\] \} \}/);
  assert.match(text, /user: "gpu-1"[\s\S]+publish: \{ allow: \["ns\.hb\.gpu-1", /);
  assert.match(text, /subscribe: \{ allow: \["ns\.ctl\.gpu-1", "_INBOX_gpu-1\.>"\] \}\n\s+allow_responses: true/);
  assert.doesNotMatch(text, /^tls/m);
  assert.equal(renderNatsServerConfig(base), renderNatsServerConfig(base), "pure: same input, same text");
  assert.match(renderNatsServerConfig(base), /^listen: "127\.0\.0\.1:4222"$/m, "loopback unless told otherwise");
  assert.match(renderNatsServerConfig({ ...base, agents: [] }), /users: \[\n {4}\{\n {6}user: "coordinator"[\s\S]*\n {2}\]\n\}\n$/);
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
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "a.b", password: PW }] }), field("agentId"));
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "a*", password: PW }] }), field("agentId"));
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "x", password: "short" }] }), field("nats.password"));
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "x", password: `$2a$11${PW}` }] }), field("nats.password"));
  assert.throws(
    () => renderNatsServerConfig({ ...base, agents: [{ agentId: "coordinator", password: PW }] }),
    field("agents"),
    "an agent cannot take the coordinator's user name",
  );
  assert.throws(() => renderNatsServerConfig({ ...base, agents: [base.agents[0]!, base.agents[0]!] }), field("agents"));
});

test("generated passwords are accepted by the renderer and differ", () => {
  const a = newNatsPassword();
  assert.match(a, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(a, newNatsPassword());
  assert.doesNotThrow(() => renderNatsServerConfig({ ...base, agents: [{ agentId: "x", password: a }] }));
});
