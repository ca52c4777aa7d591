/**
 * How fast an agent fetches an asset from the coordinator's model store,
 * against a raw TCP copy of the same bytes on loopback, in the same run.
 *
 *   node --import tsx bench/asset-transfer.bench.ts [--mib 256] [--rounds 3] [--dir PARENT]   (npm run bench:assets)
 *
 * The fetch is the real path: a started Coordinator (mutual TLS, peer guard,
 * the asset store under its data dir), an enrolled agent's AssetCache pulling
 * over ModelStore.Fetch, hashing as the parts arrive, writing the cache file,
 * fsync and rename. Rounds alternate the order; the best of each side counts.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { AssetCache } from "../agent/assets/asset-cache.ts";
import { enrollLocalAgent } from "../agent/connect/enroll-local-agent.ts";
import { CoordinatorClient } from "../agent/grpc/gateway-client.ts";
import { storeAssetSource } from "../agent/grpc/store-asset-source.ts";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { compileCoordinatorConfig } from "../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../coordinator/coordinator.ts";
import { ASSET_PART_BYTES } from "../coordinator/assets/asset-store.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { MB, benchLogger, cleanupOnInterrupt, fileSystemType, intFlag, nowSeconds, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { runRawTcpCopy } from "./raw-tcp-copy.ts";

async function assetTransferBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { mib: { default: "256" }, rounds: { default: "3" }, dir: { default: "" } });
  const mib = intFlag("mib", f.mib, 1, 4096);
  const rounds = intFlag("rounds", f.rounds, 1, 7);
  const log = benchLogger("bench-asset-transfer");
  return withTempDir("nightshift-bench-assets-", parentDirFlag(f.dir), async (dir) => {
    const payloads = Array.from({ length: mib }, () => new Uint8Array(randomBytes(1024 * 1024)));
    const bytes = mib * 1024 * 1024;
    const config = compileCoordinatorConfig({ dataDir: join(dir, "data"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" }, BUNDLED_MODELS_DIR);
    const c = await Coordinator.start(config, log);
    return cleanupOnInterrupt(() => c.stop(), async () => {
      try {
        const ref = await c.assets.put((async function* () {
          yield* payloads;
        })());
        const { token } = c.trust.tokens.create({ ttlMs: 60_000, multiUse: false, label: "bench" });
        const conn = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: token, dataDir: join(dir, "agent"), name: "bench", log });
        const channel = studioChannelCredentials(conn.credentials);
        const client = new CoordinatorClient(c.address, channel.credentials, channel.options);
        const runs = { raw: [] as number[], fetch: [] as number[] };
        // Process CPU (user + system, every thread, both ends) per GiB moved: less at the mercy of other jobs than the wall clock.
        const cpu = { raw: [] as number[], fetch: [] as number[] };
        try {
          // One untimed fetch first: the TLS connection and the JIT are warm for every timed round, as for the raw side's sockets.
          await new AssetCache({ dir: join(dir, "warm-up"), capBytes: 2 * bytes, source: storeAssetSource(client.store), log }).ensure(ref);
          rmSync(join(dir, "warm-up"), { recursive: true, force: true });
          for (let r = 0; r < rounds; r++) {
            for (const side of r % 2 === 0 ? (["raw", "fetch"] as const) : (["fetch", "raw"] as const)) {
              const at = join(dir, `${side}-${r}`);
              const cpuBefore = process.cpuUsage();
              if (side === "raw") {
                const raw = await runRawTcpCopy({ dir: at, mode: "one-file", payloads });
                runs.raw.push(raw.bytes / MB / raw.seconds);
              } else {
                const cache = new AssetCache({ dir: at, capBytes: 2 * bytes, source: storeAssetSource(client.store), log });
                const started = nowSeconds();
                await cache.ensure(ref);
                runs.fetch.push(bytes / MB / (nowSeconds() - started));
              }
              const used = process.cpuUsage(cpuBefore);
              cpu[side].push((used.user + used.system) / 1e6 / (bytes / 2 ** 30));
              rmSync(at, { recursive: true, force: true });
            }
          }
        } finally {
          client.close();
        }
        const raw = Math.max(...runs.raw);
        const fetch = Math.max(...runs.fetch);
        return {
          benchmark: "asset-transfer",
          bytes,
          rawTcpMBps: round(raw, 1),
          fetchMBps: round(fetch, 1),
          ratio: round(fetch / raw, 3),
          runs: { rawTcpMBps: runs.raw.map((v) => round(v, 1)), fetchMBps: runs.fetch.map((v) => round(v, 1)) },
          cpuSecondsPerGiB: { rawTcp: cpu.raw.map((v) => round(v, 2)), fetch: cpu.fetch.map((v) => round(v, 2)) },
          unit: "MB/s = 10^6 bytes per second",
          definitions: {
            rawTcpMBps: "bench/raw-tcp-copy.ts one-file: the same bytes in 1 MiB writes over net on 127.0.0.1, the receiver appends them to one file and fsyncs once; clock from connect to the receiver's reply after fsync",
            cpuSecondsPerGiB: "process.cpuUsage() (user + system, all threads: both ends run in this process, with the started coordinator's background work) over each timed side, per GiB moved",
            fetchMBps: `AssetCache.ensure on an empty cache: ModelStore.Fetch over gRPC with mutual TLS (peer guard) from a started Coordinator, parts of ${ASSET_PART_BYTES} bytes read from its store straight into their encoded messages (shared/assets/asset-part-codec.ts), sha256 while receiving, positioned writes to the partial file, fsync, rename; clock around ensure()`,
          },
          aggregation: `best of ${rounds} rounds for each side (odd rounds fetch first), after one untimed warm-up fetch`,
          tempFileSystem: fileSystemType(dir),
        };
      } finally {
        await c.stop();
      }
    });
  });
}

runBench(() => assetTransferBench(process.argv.slice(2)));
