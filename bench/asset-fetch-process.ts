/**
 * The receiving side of bench/asset-transfer.bench.ts in a process of its
 * own, as in a studio, where the agent that fetches an asset is another
 * machine than the coordinator that serves it: an enrolled agent's AssetCache
 * fetching over ModelStore.Fetch, and, for the baseline, the raw TCP copy's
 * receiver (bench/raw-tcp-copy.ts), so both sides of the ratio cross the
 * same process boundary. With both ends in one Node process, the sender's TLS
 * and HTTP/2 work and the receiver's hashing and writes share one event loop,
 * which two machines never do. Forked by the bench; speaks over IPC, one
 * request at a time:
 *
 *   parent -> child: start | fetch | raw | stop
 *   child -> parent: ready | fetched | listening, then received | error
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { AssetCache } from "../agent/assets/asset-cache.ts";
import { enrollLocalAgent, type LocalCoordinator } from "../agent/connect/enroll-local-agent.ts";
import { CoordinatorClient } from "../agent/grpc/gateway-client.ts";
import { storeAssetSource } from "../agent/grpc/store-asset-source.ts";
import type { AssetRef } from "../shared/assets/asset-ref.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { benchLogger, nowSeconds } from "./bench-cli.ts";
import { listenRawTcpReceiver, type RawTlsMaterial } from "./raw-tcp-copy.ts";
import { listenRawGrpcReceiver } from "./raw-grpc-copy.ts";

type ToChild =
  | { type: "start"; coordinator: LocalCoordinator; joinToken: string; dataDir: string }
  | { type: "fetch"; dir: string; ref: AssetRef }
  | { type: "raw"; dir: string; frameBytes: number }
  | { type: "grpc"; dir: string; tls: RawTlsMaterial }
  | { type: "stop" };
type FromChild =
  | { type: "ready" }
  | { type: "fetched"; seconds: number; cpuSeconds: number }
  | { type: "listening"; port: number }
  | { type: "received"; bytes: number; cpuSeconds: number }
  | { type: "error"; message: string };

/** The parent's handle on the receiving process. Calls must not overlap. */
export interface AssetFetchProcess {
  /** Fetches `ref` into an empty cache at `dir`: the seconds around ensure() and the child's CPU seconds. */
  fetch(dir: string, ref: AssetRef): Promise<{ seconds: number; cpuSeconds: number }>;
  /** Starts a raw TCP receiver into `dir`; `done` gives the bytes it stored and the child's CPU seconds. */
  rawReceiver(dir: string, frameBytes: number): Promise<{ port: number; done: Promise<{ bytes: number; cpuSeconds: number }> }>;
  /** Starts a bare grpc-js receiver (bench/raw-grpc-copy.ts) into `dir`; as rawReceiver. */
  grpcReceiver(dir: string, tls: RawTlsMaterial): Promise<{ port: number; done: Promise<{ bytes: number; cpuSeconds: number }> }>;
  /** Ends the process; safe to call twice. */
  stop(): Promise<void>;
}

/** Forks the process and enrolls its agent with `joinToken`. */
export async function startAssetFetchProcess(coordinator: LocalCoordinator, joinToken: string, dataDir: string): Promise<AssetFetchProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--child"], { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const kill = (): void => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  };
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  const next = async <T extends FromChild["type"]>(type: T): Promise<Extract<FromChild, { type: T }>> => {
    const [m] = (await Promise.race([once(child, "message"), once(child, "exit").then(() => Promise.reject(new Error("bench fetch process ended")))])) as [FromChild];
    if (m.type === "error") throw new Error(`bench fetch process: ${m.message}`);
    if (m.type !== type) throw new Error(`bench fetch process said ${m.type}, expected ${type}`);
    return m as Extract<FromChild, { type: T }>;
  };
  const send = (m: ToChild): void => {
    child.send(m);
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      const timer = setTimeout(kill, 10_000);
      try {
        send({ type: "stop" });
        await exited;
      } finally {
        clearTimeout(timer);
      }
    })());
  const receiver = async (m: Extract<ToChild, { type: "raw" | "grpc" }>): Promise<{ port: number; done: Promise<{ bytes: number; cpuSeconds: number }> }> => {
    send(m);
    const { port } = await next("listening");
    const done = next("received").then((r) => ({ bytes: r.bytes, cpuSeconds: r.cpuSeconds }));
    done.catch(() => undefined); // awaited by the caller after its send
    return { port, done };
  };
  try {
    send({ type: "start", coordinator, joinToken, dataDir });
    await next("ready");
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    async fetch(dir, ref) {
      send({ type: "fetch", dir, ref });
      const m = await next("fetched");
      return { seconds: m.seconds, cpuSeconds: m.cpuSeconds };
    },
    rawReceiver: (dir, frameBytes) => receiver({ type: "raw", dir, frameBytes }),
    grpcReceiver: (dir, tls) => receiver({ type: "grpc", dir, tls }),
    stop,
  };
}

function cpuSecondsSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

async function childMain(): Promise<void> {
  const log = benchLogger("bench-asset-fetch");
  let client: CoordinatorClient | undefined;
  const reply = (m: FromChild): void => {
    process.send?.(m);
  };
  const handle = async (m: ToChild): Promise<void> => {
    if (m.type === "start") {
      const conn = await enrollLocalAgent({ coordinator: m.coordinator, joinToken: m.joinToken, dataDir: m.dataDir, name: "bench-fetch", log });
      const channel = studioChannelCredentials(conn.credentials);
      client = new CoordinatorClient(m.coordinator.address, channel.credentials, channel.options);
      reply({ type: "ready" });
    } else if (m.type === "fetch") {
      if (!client) throw new Error("fetch before start");
      const cpu = process.cpuUsage();
      const cache = new AssetCache({ dir: m.dir, capBytes: 2 * m.ref.size, source: storeAssetSource(client), log });
      const started = nowSeconds();
      await cache.ensure(m.ref);
      reply({ type: "fetched", seconds: nowSeconds() - started, cpuSeconds: cpuSecondsSince(cpu) });
    } else if (m.type === "raw" || m.type === "grpc") {
      const cpu = process.cpuUsage();
      const receiver = m.type === "grpc" ? await listenRawGrpcReceiver(m.dir, m.tls) : await listenRawTcpReceiver(m.dir, "one-file", m.frameBytes);
      reply({ type: "listening", port: receiver.port });
      const bytes = await receiver.received;
      await receiver.close();
      reply({ type: "received", bytes, cpuSeconds: cpuSecondsSince(cpu) });
    } else {
      client?.close();
      process.exit(0);
    }
  };
  process.on("disconnect", () => process.exit(0));
  process.on("message", (m: ToChild) => {
    handle(m).catch((err: unknown) => reply({ type: "error", message: (err as Error).message }));
  });
}

if (process.argv[2] === "--child") void childMain();
