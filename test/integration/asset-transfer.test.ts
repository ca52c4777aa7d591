import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { AssetCache } from "../../agent/assets/asset-cache.ts";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { storeAssetSource } from "../../agent/grpc/store-asset-source.ts";
import { AssetUnavailableError, type AssetRef } from "../../shared/assets/asset-ref.ts";
import { silentLogger } from "../../shared/log.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { startCutProxy } from "../helpers/cut-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";

// A real coordinator (mutual TLS, peer guard, the store under its data dir) and an enrolled agent's cache fetching over gRPC.

async function* once(b: Buffer): AsyncIterable<Uint8Array> {
  yield b;
}

async function farmWithAsset(t: TestContext, bytes: Buffer) {
  const dir = tempDir(t, "ns-assets-");
  const c = await startTestCoordinator(t, dir);
  const ref = await c.assets.put(once(bytes));
  const { token } = c.trust.tokens.create({ ttlMs: 60_000, multiUse: false, label: "fetcher" });
  const conn = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: token, dataDir: join(dir, "agent"), name: "fetcher", log: silentLogger() });
  const channel = studioChannelCredentials(conn.credentials);
  const cacheFor = (address: string): AssetCache => {
    const client = new CoordinatorClient(address, channel.credentials, channel.options);
    defer(t, () => client.close());
    return new AssetCache({ dir: join(dir, "agent", "cache"), capBytes: 1 << 30, source: storeAssetSource(client.store), log: silentLogger(), resumeDelayMs: 10 });
  };
  return { c, dir, ref, agentId: conn.credentials.agentId, cacheFor };
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

test("an enrolled agent fetches an asset over mutual TLS into its cache, verified", async (t) => {
  const bytes = randomBytes(5 * 1024 * 1024 + 17);
  const { c, ref, cacheFor } = await farmWithAsset(t, bytes);
  assert.equal(ref.sha256, sha(bytes));
  const path = await cacheFor(c.address).ensure(ref);
  assert.ok(readFileSync(path).equals(bytes));
});

test("a stream cut mid-way resumes from the partial file and ends with the right bytes", async (t) => {
  const bytes = randomBytes(8 * 1024 * 1024);
  const { c, ref, cacheFor } = await farmWithAsset(t, bytes);
  const proxy = await startCutProxy(t, c.address);
  // Past the TLS handshake and a few parts, well before the end.
  proxy.cutAfter(3 * 1024 * 1024);
  const path = await cacheFor(proxy.address).ensure(ref);
  assert.equal(proxy.cuts, 1, "the connection was cut once");
  assert.ok(readFileSync(path).equals(bytes));
});

test("an unknown asset and a removed agent are refused without retries", async (t) => {
  const bytes = randomBytes(64 * 1024);
  const { c, ref, agentId, cacheFor } = await farmWithAsset(t, bytes);
  const cache = cacheFor(c.address);
  const unknown: AssetRef = { sha256: sha(Buffer.from("not in the store")), size: 16 };
  await assert.rejects(cache.ensure(unknown), (err: unknown) => err instanceof AssetUnavailableError && /no asset/.test(err.message));
  await c.enrollment.remove(agentId);
  await assert.rejects(cache.ensure(ref), (err: unknown) => err instanceof AssetUnavailableError && /was removed/.test(err.message));
  assert.equal(cache.has(ref), false);
});
