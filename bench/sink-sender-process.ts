/**
 * The sending side of the sink benchmark in a process of its own, as a
 * studio's agent is on another machine than its coordinator: the bench
 * "agent" that claims and uploads chunks to the ResultSink, and the sender of
 * the raw TCP/TLS copies it is compared with, so that both arms have the same
 * topology (receiver in the parent, sender here). With both in one process the
 * agent's sha256, TLS and HTTP/2 work and the coordinator's shared one event
 * loop, which no studio does. Each reply carries this process's CPU time
 * (user + system, all threads) for the request, so the bench can say where
 * the CPU goes on each side. Speaks over IPC:
 *
 *   parent -> child: raw | grpc | enroll | upload | disconnect | cpu (each with an id)
 *   child -> parent: one reply per request, with its id ({ type: "ok", ... } or { type: "error", message })
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { ChunkWorkSchema } from "../shared/protocol/messages.ts";
import { NIGHTSHIFT_VERSION } from "../shared/version.ts";
import type { ChunkAccounting } from "../shared/accounting/chunk-accounting.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { CoordinatorClient } from "../agent/grpc/gateway-client.ts";
import { enrollLocalAgent, type LocalCoordinator } from "../agent/connect/enroll-local-agent.ts";
import { uploadAttempt, type UploadVia } from "../agent/grpc/result-uploader.ts";
import type { EncodedFrame } from "../agent/executors/executor.ts";
import { benchLogger, nowSeconds } from "./bench-cli.ts";
import { sendRawTcp, type RawTlsMaterial } from "./raw-tcp-copy.ts";
import { sendRawGrpc } from "./raw-grpc-copy.ts";

type Request =
  | { type: "raw"; port: number; frameBytes: number; frames: number; tls?: RawTlsMaterial }
  | { type: "grpc"; port: number; frameBytes: number; frames: number; tls: RawTlsMaterial }
  | { type: "enroll"; coordinator: LocalCoordinator; joinToken: string; dataDir: string }
  | { type: "upload"; chunkId: string; dispatchId: string; frameBytes: number; via: UploadVia }
  | { type: "disconnect" }
  | { type: "cpu" };

type Reply = { type: "ok"; seconds: number; cpuMicros: number; bytes: number; committed: boolean } | { type: "error"; message: string };

export interface SendStats {
  /** The request's own clock on the sending side (raw: connect to the receiver's reply; upload: first message to the commit's answer). */
  seconds: number;
  /** CPU of the sending process during the request, in microseconds. */
  cpuMicros: number;
  bytes: number;
}

/** The parent's handle. Uploads may overlap (an agent streams a chunk's frames while the one before commits); the others are one at a time. */
export interface SinkSender {
  raw(port: number, frameBytes: number, frames: number, tls?: RawTlsMaterial): Promise<SendStats>;
  /** The bare grpc-js copy (bench/raw-grpc-copy.ts): one client stream, one message per frame. */
  grpc(port: number, frameBytes: number, frames: number, tls: RawTlsMaterial): Promise<SendStats>;
  enroll(coordinator: LocalCoordinator, joinToken: string, dataDir: string): Promise<void>;
  /** Claims the chunk with its dispatch id and uploads its frames (random payloads of `frameBytes`) on the agent's upload stream or by Upload; rejects unless committed. */
  upload(chunkId: string, dispatchId: string, frameBytes: number, via?: UploadVia): Promise<SendStats>;
  disconnect(): Promise<void>;
  /** The sending process's CPU time so far (user + system, all threads), in microseconds: for overlapping uploads, whose own figures overlap. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSinkSender(): Promise<SinkSender> {
  // `node --cpu-prof --cpu-prof-dir=D --import tsx bench/...` profiles this side too (one .cpuprofile per process).
  const profile = process.execArgv.filter((a) => a.startsWith("--cpu-prof"));
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--child"], { execArgv: [...profile, "--import", "tsx"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const kill = (): void => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  };
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  // Requests carry an id; each reply (or the child's exit) settles the one waiting for it.
  const waiting = new Map<number, { resolve: (m: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  child.on("message", (m: Reply & { id: number }) => {
    waiting.get(m.id)?.resolve(m);
    waiting.delete(m.id);
  });
  child.once("exit", () => {
    for (const w of waiting.values()) w.reject(new Error("bench sender process ended"));
    waiting.clear();
  });
  const ask = async (r: Request): Promise<Extract<Reply, { type: "ok" }>> => {
    const id = nextId++;
    const reply = new Promise<Reply>((resolve, reject) => waiting.set(id, { resolve, reject }));
    child.send({ ...r, id });
    const m = await reply;
    if (m.type === "error") throw new Error(`bench sender (${r.type}): ${m.message}`);
    return m;
  };
  return {
    raw: (port, frameBytes, frames, tls) => ask({ type: "raw", port, frameBytes, frames, ...(tls ? { tls } : {}) }),
    grpc: (port, frameBytes, frames, tls) => ask({ type: "grpc", port, frameBytes, frames, tls }),
    enroll: async (coordinator, joinToken, dataDir) => void (await ask({ type: "enroll", coordinator, joinToken, dataDir })),
    upload: async (chunkId, dispatchId, frameBytes, via = "stream") => {
      const r = await ask({ type: "upload", chunkId, dispatchId, frameBytes, via });
      if (!r.committed) throw new Error(`bench sender: upload of ${chunkId} not committed`);
      return r;
    },
    disconnect: async () => void (await ask({ type: "disconnect" })),
    cpuMicros: async () => (await ask({ type: "cpu" })).cpuMicros,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.disconnect();
      const timer = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const ACCOUNTING: ChunkAccounting = {
  wallSeconds: 0, busySeconds: 0, energyJoules: 0, energySource: "estimate", idleEnergyJoules: 0,
  peakMemoryBytes: 0, memoryKind: "ram", meanWatts: 0, samples: 0,
};

/** 8 random buffers per frame size, reused round-robin (frame i gets buffer i mod 8). */
const pools = new Map<number, Buffer[]>();
function payload(frameBytes: number, i: number): Buffer {
  let pool = pools.get(frameBytes);
  if (!pool) pools.set(frameBytes, (pool = Array.from({ length: 8 }, () => randomBytes(frameBytes))));
  return pool[i % pool.length]!;
}

async function* framesOf(start: number, end: number, frameBytes: number): AsyncIterable<EncodedFrame> {
  for (let i = start; i <= end; i++) yield { index: i, data: payload(frameBytes, i), format: "png" };
}

function childMain(): void {
  const log = benchLogger("bench-sink-sender");
  let agent: { client: CoordinatorClient; agentId: string } | undefined;
  const measured = async (fn: () => Promise<{ bytes: number; committed?: boolean }>): Promise<Reply> => {
    const cpu = process.cpuUsage();
    const t = nowSeconds();
    const r = await fn();
    const seconds = nowSeconds() - t;
    const used = process.cpuUsage(cpu);
    return { type: "ok", seconds, cpuMicros: used.user + used.system, bytes: r.bytes, committed: r.committed ?? true };
  };
  const handle = async (m: Request): Promise<Reply> => {
    if (m.type === "raw" || m.type === "grpc") {
      const payloads = Array.from({ length: m.frames }, (_, i) => payload(m.frameBytes, i));
      return measured(async () => {
        await (m.type === "grpc" ? sendRawGrpc(m.port, payloads, m.tls) : sendRawTcp(m.port, payloads, m.tls));
        return { bytes: m.frameBytes * m.frames };
      });
    }
    if (m.type === "enroll") {
      agent?.client.close();
      const enrolled = await enrollLocalAgent({ coordinator: m.coordinator, joinToken: m.joinToken, dataDir: m.dataDir, name: "bench-uploader", log });
      const channel = studioChannelCredentials(enrolled.credentials);
      const client = new CoordinatorClient(m.coordinator.address, channel.credentials, channel.options);
      const joined = await client.join({
        agentId: "", name: "bench-uploader", version: NIGHTSHIFT_VERSION, gpus: [], ramBytes: os.totalmem(),
        cpuCount: os.cpus().length, tags: [], executors: [], kinds: [{ kind: "model", version: "1.30.0", features: [], devices: [] }], joinToken: "", healthPort: 0,
      });
      agent = { client, agentId: joined.agentId };
      return { type: "ok", seconds: 0, cpuMicros: 0, bytes: 0, committed: true };
    }
    if (m.type === "cpu") {
      const used = process.cpuUsage();
      return { type: "ok", seconds: 0, cpuMicros: used.user + used.system, bytes: 0, committed: true };
    }
    if (m.type === "disconnect") {
      agent?.client.close();
      agent = undefined;
      return { type: "ok", seconds: 0, cpuMicros: 0, bytes: 0, committed: true };
    }
    const a = agent;
    if (!a) throw new Error("upload before enroll");
    const claim = await a.client.claim(a.agentId, m.chunkId, m.dispatchId, 1);
    if (claim.skip) throw new Error(`claim of ${m.chunkId} skipped: ${claim.reason}`);
    const work = ChunkWorkSchema.parse(JSON.parse(claim.workJson));
    const frameCount = work.frameEnd - work.frameStart + 1;
    return measured(async () => {
      const res = await uploadAttempt(
        a.client,
        { jobId: work.jobId, chunkId: work.chunkId, attemptId: work.attemptId, agentId: a.agentId, frameCount },
        framesOf(work.frameStart, work.frameEnd, m.frameBytes),
        () => Promise.resolve(ACCOUNTING),
        AbortSignal.timeout(5 * 60_000),
        m.via,
      );
      return { bytes: frameCount * m.frameBytes, committed: res.committed };
    });
  };
  process.on("disconnect", () => {
    agent?.client.close();
    process.exit(0);
  });
  process.on("message", (m: Request & { id: number }) => {
    void handle(m)
      .catch((err: unknown): Reply => ({ type: "error", message: (err as Error).message }))
      .then((reply) => process.send?.({ ...reply, id: m.id }));
  });
}

if (process.argv[2] === "--child") childMain();
