/**
 * How fast an agent fetches an asset from the coordinator's model store,
 * against a raw TCP copy of the same bytes on loopback, in the same run.
 *
 *   node --import tsx bench/asset-transfer.bench.ts [--mib 256] [--rounds 3] [--topology split|same|both] [--dir PARENT]   (npm run bench:assets)
 *
 * The fetch is the real path: a started Coordinator (mutual TLS, peer guard,
 * the asset store under its data dir), an enrolled agent's AssetCache pulling
 * over ModelStore.Fetch, hashing as the parts arrive, writing the cache file,
 * fsync and rename. Two topologies, each with its own raw baseline:
 *  - split (the figure): the fetching agent runs in a process of its own
 *    (bench/asset-fetch-process.ts), as another machine would, and so does
 *    the raw copy's receiver;
 *  - same: both ends of both transfers in this one process.
 * In split, also a bare grpc-js copy of the same bytes (bench/raw-grpc-copy.ts):
 * what any transfer through grpc-js reaches here.
 * Rounds alternate the order; the best of each side counts.
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
import { BadInputError } from "../shared/errors.ts";
import type { AssetRef } from "../shared/assets/asset-ref.ts";
import { MB, benchLogger, cleanupOnInterrupt, fileSystemType, intFlag, median, nowSeconds, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { startAssetFetchProcess, type AssetFetchProcess } from "./asset-fetch-process.ts";
import { rawFrameBytes, rawTlsMaterial, runRawTcpCopy, sendRawTcp, type RawTlsMaterial } from "./raw-tcp-copy.ts";
import { sendRawGrpc } from "./raw-grpc-copy.ts";

type Topology = "split" | "same";

/** One timed transfer: wall seconds and the CPU seconds of every process that took part. */
interface Timed {
  seconds: number;
  cpuSeconds: number;
}

/** Both sides of the comparison in one topology, and (split only) the bare grpc-js copy. */
interface Sides {
  raw(dir: string): Promise<Timed>;
  fetch(dir: string): Promise<Timed>;
  grpc?(dir: string): Promise<Timed>;
}

type Side = "raw" | "fetch" | "grpc";

function cpuSecondsSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

/** Both ends in this process: the same-process figure of earlier rounds. */
function sameProcessSides(client: CoordinatorClient, ref: AssetRef, payloads: readonly Uint8Array[], log: ReturnType<typeof benchLogger>): Sides {
  return {
    async raw(dir) {
      const cpu = process.cpuUsage();
      const r = await runRawTcpCopy({ dir, mode: "one-file", payloads });
      return { seconds: r.seconds, cpuSeconds: cpuSecondsSince(cpu) };
    },
    async fetch(dir) {
      const cpu = process.cpuUsage();
      const cache = new AssetCache({ dir, capBytes: 2 * ref.size, source: storeAssetSource(client), log });
      const started = nowSeconds();
      await cache.ensure(ref);
      return { seconds: nowSeconds() - started, cpuSeconds: cpuSecondsSince(cpu) };
    },
  };
}

/** The receiving ends in their own process (bench/asset-fetch-process.ts); this process sends. */
function splitSides(child: AssetFetchProcess, ref: AssetRef, payloads: readonly Uint8Array[], tls: RawTlsMaterial): Sides {
  const frameBytes = rawFrameBytes(payloads);
  const copy = async (receiving: Promise<{ port: number; done: Promise<{ bytes: number; cpuSeconds: number }> }>, send: (port: number) => Promise<number>): Promise<Timed> => {
    const cpu = process.cpuUsage();
    const receiver = await receiving;
    const seconds = await send(receiver.port);
    const { bytes, cpuSeconds } = await receiver.done;
    if (bytes !== ref.size) throw new Error(`raw copy: the receiver stored ${bytes} bytes, ${ref.size} sent`);
    return { seconds, cpuSeconds: cpuSecondsSince(cpu) + cpuSeconds };
  };
  return {
    raw: (dir) => copy(child.rawReceiver(dir, frameBytes), (port) => sendRawTcp(port, payloads)),
    grpc: (dir) => copy(child.grpcReceiver(dir, tls), (port) => sendRawGrpc(port, payloads, tls)),
    async fetch(dir) {
      const cpu = process.cpuUsage();
      const r = await child.fetch(dir, ref);
      return { seconds: r.seconds, cpuSeconds: cpuSecondsSince(cpu) + r.cpuSeconds };
    },
  };
}

function topologiesFlag(raw: string): Topology[] {
  if (raw === "both") return ["split", "same"];
  if (raw === "split" || raw === "same") return [raw];
  throw new BadInputError(`--topology: expected split, same or both, got '${raw}'`, { field: "topology" });
}

async function assetTransferBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { mib: { default: "256" }, rounds: { default: "3" }, topology: { default: "both" }, dir: { default: "" } });
  const mib = intFlag("mib", f.mib, 1, 4096);
  const rounds = intFlag("rounds", f.rounds, 1, 7);
  const topologies = topologiesFlag(f.topology);
  const log = benchLogger("bench-asset-transfer");
  return withTempDir("nightshift-bench-assets-", parentDirFlag(f.dir), async (dir) => {
    const payloads = Array.from({ length: mib }, () => new Uint8Array(randomBytes(1024 * 1024)));
    const bytes = mib * 1024 * 1024;
    const config = compileCoordinatorConfig({ dataDir: join(dir, "data"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" }, BUNDLED_MODELS_DIR);
    const c = await Coordinator.start(config, log);
    let child: AssetFetchProcess | undefined;
    return cleanupOnInterrupt(
      async () => {
        await child?.stop();
        await c.stop();
      },
      async () => {
        let client: CoordinatorClient | undefined;
        try {
          const ref = await c.assets.put((async function* () {
            yield* payloads;
          })());
          const token = (): string => c.trust.tokens.create({ ttlMs: 60_000, multiUse: false, label: "bench" }).token;
          const sides = new Map<Topology, Sides>();
          if (topologies.includes("same")) {
            const conn = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: token(), dataDir: join(dir, "agent"), name: "bench", log });
            const channel = studioChannelCredentials(conn.credentials);
            client = new CoordinatorClient(c.address, channel.credentials, channel.options);
            sides.set("same", sameProcessSides(client, ref, payloads, log));
          }
          if (topologies.includes("split")) {
            child = await startAssetFetchProcess(c.joinPoint, token(), join(dir, "fetch-agent"));
            sides.set("split", splitSides(child, ref, payloads, await rawTlsMaterial()));
          }
          const runs = new Map(topologies.map((t) => [t, { raw: [] as Timed[], fetch: [] as Timed[], grpc: [] as Timed[] }]));
          // One untimed fetch and copy first in each topology: TLS connections, JIT and sockets are warm for every timed round.
          for (const t of topologies) {
            const s = sides.get(t) as Sides;
            await s.fetch(join(dir, "warm-up"));
            await s.raw(join(dir, "warm-up-raw"));
            await s.grpc?.(join(dir, "warm-up-grpc"));
            rmSync(join(dir, "warm-up-grpc"), { recursive: true, force: true });
            rmSync(join(dir, "warm-up"), { recursive: true, force: true });
            rmSync(join(dir, "warm-up-raw"), { recursive: true, force: true });
          }
          for (let r = 0; r < rounds; r++) {
            for (const t of r % 2 === 0 ? topologies : [...topologies].reverse()) {
              const s = sides.get(t) as Sides;
              const order: Side[] = s.grpc ? ["raw", "grpc", "fetch"] : ["raw", "fetch"];
              for (const side of r % 2 === 0 ? order : [...order].reverse()) {
                const at = join(dir, `${t}-${side}-${r}`);
                const run = s[side];
                if (run) (runs.get(t) as Record<Side, Timed[]>)[side].push(await run.call(s, at));
                rmSync(at, { recursive: true, force: true });
              }
            }
          }
          const gib = bytes / 2 ** 30;
          const results = Object.fromEntries(
            topologies.map((t) => {
              const { raw, fetch, grpc } = runs.get(t) as Record<Side, Timed[]>;
              const mbps = (xs: Timed[]): number[] => xs.map((x) => bytes / MB / x.seconds);
              const best = { raw: Math.max(...mbps(raw)), fetch: Math.max(...mbps(fetch)) };
              const bareGrpc =
                grpc.length === 0
                  ? {}
                  : {
                      bareGrpcMBps: round(Math.max(...mbps(grpc)), 1),
                      medianRatioVsBareGrpc: round(median(mbps(fetch)) / median(mbps(grpc)), 3),
                      bareGrpcMedianRatioVsRawTcp: round(median(mbps(grpc)) / median(mbps(raw)), 3),
                    };
              return [
                t,
                {
                  rawTcpMBps: round(best.raw, 1),
                  fetchMBps: round(best.fetch, 1),
                  ratio: round(best.fetch / best.raw, 3),
                  // One lucky raw round sets the best/best ratio on a busy machine; the medians' ratio is steadier.
                  medianRatio: round(median(mbps(fetch)) / median(mbps(raw)), 3),
                  ...bareGrpc,
                  runs: { rawTcpMBps: mbps(raw).map((v) => round(v, 1)), fetchMBps: mbps(fetch).map((v) => round(v, 1)), ...(grpc.length ? { bareGrpcMBps: mbps(grpc).map((v) => round(v, 1)) } : {}) },
                  cpuSecondsPerGiB: { rawTcp: raw.map((x) => round(x.cpuSeconds / gib, 2)), fetch: fetch.map((x) => round(x.cpuSeconds / gib, 2)), ...(grpc.length ? { bareGrpc: grpc.map((x) => round(x.cpuSeconds / gib, 2)) } : {}) },
                },
              ];
            }),
          );
          const figure = results[topologies[0] as Topology] as { ratio: number };
          return {
            benchmark: "asset-transfer",
            bytes,
            ratio: figure.ratio,
            ratioTopology: topologies[0],
            ...results,
            unit: "MB/s = 10^6 bytes per second",
            definitions: {
              split: "the fetching agent and the raw copy's receiver in a second process (bench/asset-fetch-process.ts), the coordinator and the raw sender in this one: two processes, as two machines would be (on this machine they still share its cores)",
              same: "both ends of both transfers in this one process, as in earlier rounds",
              rawTcpMBps: "bench/raw-tcp-copy.ts one-file: the same bytes in 1 MiB writes over net on 127.0.0.1, the receiver appends them to one file and fsyncs once; clock from connect to the receiver's reply after fsync",
              bareGrpcMBps:
                "split only: bench/raw-grpc-copy.ts, the same 1 MiB buffers as the messages of one client-streaming grpc-js call over mutual TLS (no protobuf; the receiving process's server widens its window as the coordinator does, appends each message to one file and fsyncs once), in the same direction (this process to the other). The ceiling of any transfer through grpc-js here: fetch/bareGrpc is nightshift's own cost, bareGrpc/rawTcp is grpc-js's, TLS's and Node's",
              cpuSecondsPerGiB: "process.cpuUsage() (user + system, all threads) of every process taking part (split: both), over each timed side, per GiB moved; the coordinator's background work counts on both sides",
              fetchMBps: `AssetCache.ensure on an empty cache: ModelStore.Fetch over gRPC with mutual TLS (peer guard) from a started Coordinator, parts of ${ASSET_PART_BYTES} bytes read from its store straight into their encoded messages (shared/assets/asset-part-codec.ts), sha256 while receiving, positioned writes to the partial file, fsync, rename; clock around ensure() in the fetching process`,
            },
            aggregation: `ratio: best of ${rounds} rounds for each side; medianRatio: the ratio of the two sides' medians (odd rounds fetch first, topologies in turn), after one untimed warm-up fetch and copy per topology`,
            tempFileSystem: fileSystemType(dir),
          };
        } finally {
          client?.close();
          await child?.stop();
          await c.stop();
        }
      },
    );
  });
}

runBench(() => assetTransferBench(process.argv.slice(2)));
