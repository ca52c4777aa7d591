/**
 * What an agent's upload stream costs the coordinator when chunks are long:
 * a studio chunk (a Blender frame, a model's steps) lasts seconds, longer
 * than the 2 s idle close the agent's upload stream had until the tenth
 * round, so every chunk's upload opened a new stream (with its ready round
 * trip) and closed it again. Measured through the real TLS front and peer
 * guard, the real sink handlers with the upload codec (the sink behind them
 * stores nothing: bench/null-sink.ts) and the agent's own uploader
 * (agent/grpc/result-uploader.ts) in a child process, so this process's CPU
 * is the server side only. Streams are counted on the server.
 *
 *   node --import tsx bench/upload-stream-open.bench.ts [--chunk-ms 3000] [--chunks 12] [--agents 16] [--idle-seconds 10]
 *
 * - backToBack (the same run's baseline): `--chunks` uploads by one agent
 *   with no gap: the stream stays open whatever the code.
 * - longChunks: `--chunks` uploads by the same agent, one every
 *   `--chunk-ms` (the chunk's run between two uploads): streams opened per
 *   chunk, upload latency (the uploader's call to its answer), and the
 *   server's CPU per chunk less the idle rate over the batch's wall time.
 * - idle: `--agents` agents (each its own connection) upload once, then
 *   idle; once 2.7 s have passed (a stream that closes when idle has closed)
 *   the server's CPU is measured over `--idle-seconds`: per agent-second.
 *
 * The file uses only what main had before the tenth round, so the same file
 * runs against both (interleaved runs: README, "Upload streams open while the
 * agent runs").
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { CoordinatorClient } from "../agent/grpc/gateway-client.ts";
import { uploadAttempt } from "../agent/grpc/result-uploader.ts";
import { stopGrpcServer } from "../coordinator/grpc/grpc-server.ts";
import type { UploadAnswer, UploadMessage } from "../proto/gen/nightshift/v1/sink.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { intFlag, median, parseFlags, percentile, round, runBench, withTempDir } from "./bench-cli.ts";
import { BENCH_AGENT_ID } from "./enrolled-bench-agent.ts";
import { startNullSinkServer, type NullSinkClientConfig } from "./null-sink.ts";

/** From the last upload to the idle window: past the old 2 s idle close, with a margin. */
const IDLE_SETTLE_MS = 2_700;

type ClientConfig = NullSinkClientConfig;
type ToChild = { type: "agents"; count: number } | { type: "uploads"; agents: number; count: number; gapMs: number };

const ACCOUNTING = { wallSeconds: 1, busySeconds: 1, energyJoules: 1, energySource: "estimate" as const, idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram" as const, meanWatts: 1, samples: 1 };

/** The child: `count` agents' uploaders (each its own connection), uploading as asked; answers each batch's latencies, ms. */
function child(config: ClientConfig): void {
  const channel = studioChannelCredentials({ caPem: config.caPem, certPem: config.certPem, keyPem: config.keyPem });
  const clients: CoordinatorClient[] = [];
  const data = new Uint8Array(1024).fill(7);
  const target = { jobId: "job-1", chunkId: "chk-1", attemptId: "att-1", agentId: BENCH_AGENT_ID, frameCount: 1 };
  async function* frames() {
    yield { index: 0, data, format: "png" };
  }
  const one = async (client: CoordinatorClient): Promise<number> => {
    const t0 = performance.now();
    await uploadAttempt(client, target, frames(), async () => ACCOUNTING, new AbortController().signal);
    return performance.now() - t0;
  };
  process.on("message", (m: ToChild) => {
    void (async () => {
      if (m.type === "agents") {
        while (clients.length < m.count) clients.push(new CoordinatorClient(`127.0.0.1:${config.port}`, channel.credentials, { ...channel.options, "grpc.use_local_subchannel_pool": 1 }));
        return process.send?.({ latenciesMs: [] });
      }
      const latenciesMs: number[] = [];
      for (let i = 0; i < m.count; i++) {
        if (i > 0 && m.gapMs > 0) await new Promise((r) => setTimeout(r, m.gapMs));
        latenciesMs.push(...(await Promise.all(clients.slice(0, m.agents).map(one))));
      }
      process.send?.({ latenciesMs });
    })().catch((err: unknown) => process.send?.({ error: String(err) }));
  });
  process.on("disconnect", () => {
    for (const c of clients) c.close();
    process.exit(0);
  });
  process.send?.({ latenciesMs: [] });
}

async function ask(proc: ChildProcess, m: ToChild): Promise<number[]> {
  proc.send(m);
  const [answer] = (await once(proc, "message")) as [{ latenciesMs?: number[]; error?: string }];
  if (answer.error !== undefined) throw new Error(`client: ${answer.error}`);
  return answer.latenciesMs ?? [];
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** This process's CPU per second over `seconds`, after `settleMs`. */
async function idleRate(settleMs: number, seconds: number): Promise<number> {
  await sleep(settleMs);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return cpuMs(c0) / ((performance.now() - t0) / 1000);
}

async function parent(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { "chunk-ms": { default: "3000" }, chunks: { default: "12" }, agents: { default: "16" }, "idle-seconds": { default: "10" } });
  const chunkMs = intFlag("chunk-ms", f["chunk-ms"], 0, 60_000);
  const chunks = intFlag("chunks", f.chunks, 2, 1000);
  const agents = intFlag("agents", f.agents, 1, 256);
  const idleSeconds = intFlag("idle-seconds", f["idle-seconds"], 1, 120);
  return withTempDir("nightshift-bench-upload-open-", undefined, async (dir) => {
    let opened = 0;
    const { server, store, config } = await startNullSinkServer(dir, (h) => ({
      ...h,
      uploadStream: (call: ServerDuplexStream<UploadMessage, UploadAnswer>) => (opened++, h.uploadStream(call)),
    }));
    const proc = fork(fileURLToPath(import.meta.url), ["--child", JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    try {
      await once(proc, "message");
      await ask(proc, { type: "agents", count: 1 });
      await ask(proc, { type: "uploads", agents: 1, count: 30, gapMs: 0 }); // warm-up: connection made, code compiled

      const batch = async (gapMs: number) => {
        const o0 = opened;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const latencies = await ask(proc, { type: "uploads", agents: 1, count: chunks, gapMs });
        return { cpuMs: cpuMs(c0), wallSeconds: (performance.now() - t0) / 1000, streams: opened - o0, latencies };
      };
      const back = await batch(0);
      const oneAgentIdle = await idleRate(IDLE_SETTLE_MS, Math.min(idleSeconds, 5));
      const long = await batch(chunkMs);
      const netPerChunk = (b: typeof long) => Math.max(0, b.cpuMs - oneAgentIdle * b.wallSeconds) / chunks;

      await ask(proc, { type: "agents", count: agents });
      const o0 = opened;
      await ask(proc, { type: "uploads", agents, count: 1, gapMs: 0 });
      const streamsForIdle = opened - o0;
      const idle = await idleRate(IDLE_SETTLE_MS, idleSeconds);
      const lat = (xs: number[]) => ({ p50: round(median(xs), 2), p90: round(percentile(xs, 90), 2), max: round(Math.max(...xs), 2) });
      return {
        benchmark: "upload-stream-open",
        chunkMs, chunks, agents, idleSeconds,
        backToBack: { streamsPerChunk: round(back.streams / chunks, 3), cpuMsPerChunk: round(netPerChunk(back), 3), latencyMs: lat(back.latencies) },
        longChunks: { streamsPerChunk: round(long.streams / chunks, 3), cpuMsPerChunk: round(netPerChunk(long), 3), rawCpuMsPerChunk: round(long.cpuMs / chunks, 3), latencyMs: lat(long.latencies) },
        longVsBackToBackCpu: round(netPerChunk(long) / netPerChunk(back), 3),
        idle: { streamsOpenedForIdleAgents: streamsForIdle, cpuMsPerSecond: round(idle, 3), cpuMsPerAgentSecond: round(idle / agents, 4), oneAgentCpuMsPerSecond: round(oneAgentIdle, 3) },
        definitions: {
          upload: "header, one 1 KiB frame, accounting, answer, by agent/grpc/result-uploader.ts uploadAttempt in a child process; the sink behind the handler stores nothing",
          streamsPerChunk: "ResultSink.UploadStream calls the server's handler received over the batch, per upload",
          cpuMsPerChunk: "this (server) process's CPU (user + system) over the batch less the one-agent idle rate times the batch's wall time, per upload",
          rawCpuMsPerChunk: "the same without taking the idle rate off",
          latencyMs: "the uploader's uploadAttempt call to its answer, ms (includes opening a stream when one is opened)",
          idle: `--agents agents, each its own connection, upload once at the same time; from ${IDLE_SETTLE_MS} ms after (a stream with a 2 s idle close has closed) the server's CPU over --idle-seconds; oneAgentCpuMsPerSecond: the same with one agent, over min(5, --idle-seconds) s`,
        },
      };
    } finally {
      proc.disconnect();
      await stopGrpcServer(server, 0);
      store.close();
    }
  });
}

if (process.argv[2] === "--child") child(JSON.parse(process.argv[3] ?? "{}") as ClientConfig);
else runBench(() => parent(process.argv.slice(2)));
