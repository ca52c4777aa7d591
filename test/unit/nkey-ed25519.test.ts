import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { jwtAuthenticator, nkeys } from "@nats-io/nats-core";
import { decode, type User } from "@nats-io/jwt";
import { createNkey, nkeyFromSeed, nkeyJwtAuthenticator, publicKeyOfSeed } from "../../shared/nats/nkey-ed25519.ts";
import { NatsOperatorKeys } from "../../coordinator/trust/nats-operator-keys.ts";
import { agentPermissions } from "../../coordinator/trust/nats-auth-config.ts";

const te = new TextEncoder();
const td = new TextDecoder();

test("the same texts and signature bytes as nkeys.js (tweetnacl), for every role", () => {
  for (const make of [nkeys.createUser, nkeys.createAccount, nkeys.createOperator]) {
    for (let i = 0; i < 8; i++) {
      const theirs = make();
      const seed = td.decode(theirs.getSeed());
      const ours = nkeyFromSeed(seed);
      assert.equal(ours.getPublicKey(), theirs.getPublicKey());
      assert.equal(td.decode(ours.getSeed()), seed);
      assert.equal(td.decode(ours.getPrivateKey()), td.decode(theirs.getPrivateKey()));
      for (const size of [0, 11, 300]) {
        const input = new Uint8Array(randomBytes(size));
        const sig = ours.sign(input);
        assert.deepEqual(sig, theirs.sign(input), "ed25519 is deterministic: the same bytes");
        assert.ok(theirs.verify(input, sig));
        assert.ok(ours.verify(input, sig));
        assert.ok(!ours.verify(te.encode("other"), sig));
      }
    }
  }
});

test("fresh keys are valid nkeys of their role", () => {
  for (const [role, prefix] of [["user", "U"], ["account", "A"], ["operator", "O"]] as const) {
    const k = createNkey(role);
    assert.ok(k.getPublicKey().startsWith(prefix), k.getPublicKey());
    assert.ok(td.decode(k.getSeed()).startsWith(`S${prefix}`));
    assert.equal(nkeys.fromSeed(k.getSeed()).getPublicKey(), k.getPublicKey(), "nkeys.js reads the seed back to the same key");
  }
  assert.notEqual(createNkey("user").getPublicKey(), createNkey("user").getPublicKey());
});

test("malformed seeds are refused as nkeys.js refuses them", () => {
  const seed = td.decode(nkeys.createUser().getSeed());
  const flipped = seed.slice(0, 10) + (seed[10] === "A" ? "B" : "A") + seed.slice(11);
  for (const bad of ["", "SUnot-a-seed", flipped, nkeys.createUser().getPublicKey(), seed.toLowerCase().slice(0, 20)]) {
    assert.throws(() => nkeyFromSeed(bad), nkeys.NKeysError, bad);
    assert.equal(publicKeyOfSeed(bad), undefined);
  }
  const cleared = nkeyFromSeed(seed);
  cleared.clear();
  assert.throws(() => cleared.sign(te.encode("x")), nkeys.NKeysError);
  assert.throws(() => cleared.getSeed(), nkeys.NKeysError);
});

test("the NATS challenge answer equals nats-core's jwtAuthenticator", () => {
  const seed = td.decode(nkeys.createUser().getSeed());
  const ours = nkeyJwtAuthenticator("the.jwt.text", seed);
  const theirs = jwtAuthenticator("the.jwt.text", te.encode(seed));
  assert.deepEqual(ours("a-nonce-from-the-server"), theirs("a-nonce-from-the-server"));
  assert.deepEqual(ours(undefined), theirs(undefined));
});

test("an agent's user JWT is signed by the account key with the bytes nkeys.js would sign", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "nkey-ed25519-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keys = await NatsOperatorKeys.open(dir);
  const user = nkeys.createUser();
  const jwt = await keys.agentJwt("gpu-1", user.getPublicKey(), agentPermissions({ subjectPrefix: "ns" }, "gpu-1"));
  const claims = decode<User>(jwt); // verifies the signature against the issuer
  assert.equal(claims.iss, keys.accountPublicKey);
  assert.equal(claims.sub, user.getPublicKey());
  const [header, body, sig] = jwt.split(".") as [string, string, string];
  const accountSeed = (await readFile(join(dir, "nats-operator", "account.nk"), "utf8")).trim();
  const tweetnacl = nkeys.fromSeed(te.encode(accountSeed)).sign(te.encode(`${header}.${body}`));
  assert.equal(Buffer.from(tweetnacl).toString("base64url"), sig);
  // Seeds written by the earlier nkeys.js code are read back to the same keys.
  const again = await NatsOperatorKeys.open(dir);
  assert.equal(again.accountPublicKey, keys.accountPublicKey);
  assert.equal(again.operatorPublicKey, nkeys.fromSeed(te.encode((await readFile(join(dir, "nats-operator", "operator.nk"), "utf8")).trim())).getPublicKey());
});
