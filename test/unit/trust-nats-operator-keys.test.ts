import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { createUser, decode, type Account, type Operator, type User } from "@nats-io/jwt";
import { NatsOperatorKeys } from "../../coordinator/trust/nats-operator-keys.ts";
import { renderNatsResolverConfig } from "../../coordinator/trust/nats-resolver-config.ts";
import { agentPermissions } from "../../coordinator/trust/nats-auth-config.ts";
import { BadInputError } from "../../shared/errors.ts";
import { tempDir } from "../helpers/temp-dir.ts";

test("operator, account and system keys are created once (0600 in a 0700 folder) and the same on the next open", async (t) => {
  const dir = tempDir(t, "nightshift-operator-");
  const first = await NatsOperatorKeys.open(dir);
  const again = await NatsOperatorKeys.open(dir);
  assert.equal(again.operatorPublicKey, first.operatorPublicKey);
  assert.equal(again.accountPublicKey, first.accountPublicKey);
  assert.equal(again.systemAccountPublicKey, first.systemAccountPublicKey);
  assert.match(first.operatorPublicKey, /^O[A-Z2-7]{55}$/);
  assert.match(first.accountPublicKey, /^A[A-Z2-7]{55}$/);
  assert.notEqual(first.accountPublicKey, first.systemAccountPublicKey);
  assert.equal(statSync(join(dir, "nats-operator")).mode & 0o777, 0o700);
  for (const f of ["operator.nk", "account.nk", "system-account.nk"]) assert.equal(statSync(join(dir, "nats-operator", f)).mode & 0o777, 0o600, f);
});

test("the JWT chain: operator names the system account, the account is signed by the operator with JetStream and revocations, the agent's user JWT carries its permissions", async (t) => {
  const keys = await NatsOperatorKeys.open(tempDir(t, "nightshift-operator-"));
  const op = decode<Operator>(await keys.operatorJwt());
  assert.equal(op.sub, keys.operatorPublicKey);
  assert.equal(op.nats.system_account, keys.systemAccountPublicKey);

  const user = createUser();
  const account = decode<Account>(await keys.accountJwt({ [user.getPublicKey()]: 1_800_000_000 }));
  assert.equal(account.iss, keys.operatorPublicKey);
  assert.equal(account.sub, keys.accountPublicKey);
  assert.deepEqual(account.nats.revocations, { [user.getPublicKey()]: 1_800_000_000 });
  assert.equal(account.nats.limits?.disk_storage, -1, "JetStream on");
  assert.equal(account.nats.limits?.conn, -1, "connections not capped (a missing limit reads as 0 in nats-server)");
  const system = decode<Account>(await keys.systemAccountJwt());
  assert.equal(system.iss, keys.operatorPublicKey);
  assert.equal(system.nats.limits?.disk_storage, undefined, "no JetStream in the system account");

  const perms = agentPermissions({ subjectPrefix: "ns" }, "gpu-1");
  const agent = decode<User>(await keys.agentJwt("gpu-1", user.getPublicKey(), perms));
  assert.equal(agent.iss, keys.accountPublicKey);
  assert.equal(agent.sub, user.getPublicKey());
  assert.deepEqual(agent.nats.pub?.allow, perms.publish);
  assert.deepEqual(agent.nats.sub?.allow, perms.subscribe);
  assert.equal(agent.nats.resp?.max, 1);
  const field = (e: unknown) => e instanceof BadInputError && e.field === "nats.nkey";
  await assert.rejects(keys.agentJwt("gpu-1", new TextDecoder().decode(user.getSeed()), perms), field, "a seed is refused");
  await assert.rejects(keys.agentJwt("gpu-1", keys.accountPublicKey, perms), field, "only user keys");

  const coordinator = decode<User>((await keys.coordinatorUser()).jwt);
  assert.equal(coordinator.iss, keys.accountPublicKey);
  assert.equal(coordinator.nats.pub, undefined, "the coordinator's user is not restricted");
  assert.equal(decode<User>((await keys.systemUser()).jwt).iss, keys.systemAccountPublicKey);
});

test("the resolver config: operator JWT, system account, a full resolver in its folder, accounts preloaded; bad input names the field", async (t) => {
  const keys = await NatsOperatorKeys.open(tempDir(t, "nightshift-operator-"));
  const operatorJwt = await keys.operatorJwt();
  const accountJwt = await keys.accountJwt({});
  const input = { operatorJwt, systemAccount: keys.systemAccountPublicKey, resolverDir: '/srv/nats "accounts"', preload: { [keys.accountPublicKey]: accountJwt } };
  const text = renderNatsResolverConfig(input);
  assert.ok(text.includes(`operator: "${operatorJwt}"`));
  assert.match(text, new RegExp(`^system_account: ${keys.systemAccountPublicKey}$`, "m"));
  assert.match(text, /resolver: \{\n {2}type: full\n {2}dir: "\/srv\/nats \\"accounts\\""\n/);
  assert.ok(text.includes(`  ${keys.accountPublicKey}: "${accountJwt}"`));
  const field = (f: string) => (e: unknown) => e instanceof BadInputError && e.field === f;
  assert.throws(() => renderNatsResolverConfig({ ...input, operatorJwt: "not a jwt" }), field("nats.operatorJwt"));
  assert.throws(() => renderNatsResolverConfig({ ...input, systemAccount: keys.operatorPublicKey }), field("nats.systemAccount"));
  assert.throws(() => renderNatsResolverConfig({ ...input, preload: { [keys.accountPublicKey]: "x\n}" } }), field("nats.preload"));
});

test("the account JWT is signed without a pure-JS ed25519 verify of the JWT just made (85-140 ms of a coordinator start)", async (t) => {
  // @nats-io/jwt's decode checks the signature with nkeys.js's tweetnacl; accountJwt only needs the iat it stamped.
  const jwtMain = createRequire(import.meta.url).resolve("@nats-io/jwt");
  const nkeysMain = createRequire(jwtMain).resolve("@nats-io/nkeys");
  const nacl = (createRequire(jwtMain)(join(dirname(nkeysMain), "nacl.js")) as { default: { sign: { detached: { verify: (...a: unknown[]) => boolean } } } }).default;
  const verify = t.mock.method(nacl.sign.detached, "verify");
  const keys = await NatsOperatorKeys.open(tempDir(t));
  const first = decode<Account>(await keys.accountJwt({}));
  const second = decode<Account>(await keys.accountJwt({}));
  assert.ok(second.iat > first.iat, "each account JWT is issued in a later second");
  assert.equal(verify.mock.callCount(), 2, "only this test's two decodes verified a signature");
});
