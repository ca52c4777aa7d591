import assert from "node:assert/strict";
import { test } from "node:test";
import { reachableNatsServers } from "../../agent/connect/nats-address.ts";
import { parseTtl } from "../../cli/commands/token-command.ts";
import { agentIdForPublicKey } from "../../shared/tls/agent-id.ts";
import { isValidAgentId } from "../../shared/tls/identity-names.ts";
import { generateEcKeyPair, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { BadInputError } from "../../shared/errors.ts";
import { AGENT_SERVICE_TYPE, COORDINATOR_SERVICE_TYPE } from "../../shared/discovery/discovery.ts";

test("NATS URLs on loopback or 0.0.0.0 are dialled at the coordinator's LAN address; real hosts are kept", () => {
  assert.deepEqual(reachableNatsServers(["nats://127.0.0.1:4222"], "10.77.1.10:7400"), ["nats://10.77.1.10:4222"]);
  assert.deepEqual(reachableNatsServers(["nats://0.0.0.0:4222"], "gpu-host:7400"), ["nats://gpu-host:4222"]);
  assert.deepEqual(reachableNatsServers(["nats://10.0.0.2:4222", "tls://nats.studio:4443"], "10.77.1.10:7400"), ["nats://10.0.0.2:4222", "tls://nats.studio:4443"]);
  assert.deepEqual(reachableNatsServers(["nats://127.0.0.1:4222"], "127.0.0.1:7400"), ["nats://127.0.0.1:4222"]);
});

test("--ttl durations", () => {
  assert.equal(parseTtl("90s"), 90_000);
  assert.equal(parseTtl("30m"), 1_800_000);
  assert.equal(parseTtl("24h"), 86_400_000);
  assert.equal(parseTtl("7d"), 604_800_000);
  assert.equal(parseTtl("never"), null);
  for (const bad of ["", "24", "0s", "1y", "-1h", "400d"]) assert.throws(() => parseTtl(bad), BadInputError, bad);
});

test("the agent id is derived from the key: stable, distinct per key, usable as CN, NATS user and subject token", async () => {
  const a = publicKeyToPem((await generateEcKeyPair()).publicKey);
  const b = publicKeyToPem((await generateEcKeyPair()).publicKey);
  assert.equal(agentIdForPublicKey(a), agentIdForPublicKey(a));
  assert.notEqual(agentIdForPublicKey(a), agentIdForPublicKey(b));
  assert.match(agentIdForPublicKey(a), /^agt-[0-9a-f]{20}$/);
  assert.ok(isValidAgentId(agentIdForPublicKey(a)));
  assert.throws(() => agentIdForPublicKey("not a key"), BadInputError);
});

test("DNS-SD service types fit the 15-character limit", () => {
  for (const type of [COORDINATOR_SERVICE_TYPE, AGENT_SERVICE_TYPE]) assert.ok(type.length <= 15, type);
});
