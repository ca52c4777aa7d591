import assert from "node:assert/strict";
import { test } from "node:test";
import { agentPermissions, renderNatsTls } from "../../coordinator/trust/nats-auth-config.ts";
import { ephemeralNatsUser } from "../../coordinator/trust/nats-user-keys.ts";
import { publicKeyOfSeed } from "../../shared/nats/nkey-ed25519.ts";
import { BadInputError } from "../../shared/errors.ts";

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

test("TLS block, with client verification only on request", () => {
  const text = renderNatsTls({ certFile: "/d/server.crt", keyFile: "/d/server.key", caFile: "/d/ca.crt" });
  assert.equal(text, 'tls {\n  cert_file: "/d/server.crt"\n  key_file: "/d/server.key"\n  ca_file: "/d/ca.crt"\n  verify: false\n}');
  const verified = renderNatsTls({ certFile: 'C:\\night "shift"', keyFile: "k", verifyClients: true });
  assert.match(verified, /verify: true/);
  assert.match(verified, /cert_file: "C:\\\\night \\"shift\\""/, "paths with quotes or backslashes are quoted safely");
  assert.doesNotMatch(verified, /ca_file/);
});

test("bad topology or agent ids are refused naming the field", () => {
  const field = (f: string) => (e: unknown) => e instanceof BadInputError && e.field === f;
  assert.throws(() => agentPermissions({ subjectPrefix: "ns.>" }, "a"), field("nats.subjectPrefix"));
  assert.throws(() => agentPermissions({ subjectPrefix: "" }, "a"), field("nats.subjectPrefix"));
  assert.throws(() => agentPermissions({ subjectPrefix: "ns", stream: "NS WORK" }, "a"), field("nats.stream"));
  assert.throws(() => agentPermissions({ subjectPrefix: "ns" }, "a.b"), field("agentId"));
  assert.throws(() => agentPermissions({ subjectPrefix: "ns" }, "a*"), field("agentId"));
});

test("generated user keys differ, and their seeds give back their public keys", () => {
  const a = ephemeralNatsUser();
  assert.match(a.seed, /^SU[A-Z2-7]{56}$/);
  assert.equal(publicKeyOfSeed(a.seed), a.publicKey);
  assert.notEqual(a.publicKey, ephemeralNatsUser().publicKey);
  assert.equal(publicKeyOfSeed("SUnot-a-seed"), undefined);
});
