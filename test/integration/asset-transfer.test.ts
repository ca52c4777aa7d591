import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { AssetCache, type AssetSource } from "../../agent/assets/asset-cache.ts";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { storeAssetSource } from "../../agent/grpc/store-asset-source.ts";
import { AssetUnavailableError, type AssetRef } from "../../shared/assets/asset-ref.ts";
import { silentLogger } from "../../shared/log.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { startBlackholeProxy } from "../helpers/blackhole-proxy.ts";
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
  const clientFor = (address: string): CoordinatorClient => {
    const client = new CoordinatorClient(address, channel.credentials, channel.options);
    defer(t, () => client.close());
    return client;
  };
  const cacheWith = (source: AssetSource): AssetCache => new AssetCache({ dir: join(dir, "agent", "cache"), capBytes: 1 << 30, source, log: silentLogger(), resumeDelayMs: 10 });
  const cacheFor = (address: string): AssetCache => cacheWith(storeAssetSource(clientFor(address)));
  return { c, dir, ref, agentId: conn.credentials.agentId, cacheFor, clientFor, cacheWith };
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

// Without the cancel of the fetch under way on the old connection (CoordinatorClient.fetchAsset), that fetch ran on
// until grpc-js dropped the deaf connection ("14 UNAVAILABLE: Connection dropped", 1.95 s after the new dial in a
// run with the cancel left out; the fetch went on 2.1 s after it), against 0.03 s and 0.32 s with it.
test("a fetch under way when the agent dials again (its connection gone deaf after a cut link) goes on from where it stopped on the new connection", { timeout: 60_000 }, async (t) => {
  const bytes = randomBytes(32 * 1024 * 1024);
  const { c, ref, clientFor, cacheWith } = await farmWithAsset(t, bytes);
  const proxy = await startBlackholeProxy(t, c.address);
  const client = clientFor(proxy.address);
  const inner = storeAssetSource(client);
  const offsets: number[] = [];
  let dialledAt: number | undefined;
  let resumedAt: number | undefined;
  const broke: string[] = [];
  // At the first part: the link's connections go deaf for good (nothing passes, nothing closes them) and the agent
  // dials again, as it does when its NATS link comes back from a silent cut (agent.ts, watchStaleLinks).
  const source: AssetSource = {
    async *fetch(r, offset, signal) {
      const again = offsets.push(offset) > 1;
      try {
        for await (const part of inner.fetch(r, offset, signal)) {
          if (again) resumedAt ??= performance.now();
          if (dialledAt === undefined) {
            proxy.deafen();
            dialledAt = performance.now();
            client.redial();
          }
          yield part;
        }
      } catch (err) {
        broke.push(`${(err as Error).message} (${(performance.now() - (dialledAt ?? Number.NaN)).toFixed(0)} ms after the new dial)`);
        throw err;
      }
    },
  };
  const path = await cacheWith(source).ensure(ref);
  const resumedMs = (resumedAt ?? Number.NaN) - (dialledAt ?? Number.NaN);
  t.diagnostic(`first fetch broke: ${broke.join("; ")}; the fetch went on ${resumedMs.toFixed(0)} ms after the new dial, the asset in the cache ${(performance.now() - (dialledAt ?? Number.NaN)).toFixed(0)} ms after it; fetches from ${offsets.join(", ")}`);
  assert.ok(readFileSync(path).equals(bytes));
  assert.equal(client.dials, 2);
  assert.equal(offsets.length, 2, "one fetch on the old connection, one on the new");
  assert.ok(offsets[1]! > 0 && offsets[1]! < bytes.length, `the second fetch went on from what the first had written (${offsets[1]})`);
  assert.equal(broke.length, 1);
  assert.match(broke[0]!, /UNAVAILABLE: the agent dialled the coordinator again/, "the fetch on the old connection was ended by the new dial, not left to grpc-js's drop of the deaf connection");
});
