/**
 * How fast the result sink takes frames, against a raw TCP copy of the same bytes.
 *
 *   node --import tsx bench/sink-throughput.bench.ts [--frames 64] [--frame-bytes 1048576,204800] [--chunk-size 8] [--rounds 2] [--dir PARENT] [--unary-arm true]
 *
 * Prints one JSON object with one result per frame size. Baselines and sink
 * run interleaved for --rounds rounds (default 2; odd rounds in reverse order)
 * and the best run of each is used, so the ratio is measured under the same
 * machine load and a passing disk hiccup hits neither side alone. Every arm
 * has the same topology: the receiver (coordinator, or raw server) in this
 * process, the sender (the bench agent, or the raw client) in a process of
 * its own (bench/sink-sender-process.ts), as an agent is another machine.
 * `--chunk-size 1` with small frames measures a commit's latency: each
 * upload's time from its first message to the commit's answer (p50, p90).
 * The agent uploads on its one upload stream (ResultSink.UploadStream), as a
 * real agent does; `--unary-arm true` adds an arm with one Upload call per chunk
 * (what agents did before, and older coordinators still get), one in flight.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { MB, benchLogger, cleanupOnInterrupt, fileSystemType, intFlag, intListFlag, parentDirFlag, parseFlags, percentile, round, runBench, withTempDir } from "./bench-cli.ts";
import { listenRawTcpReceiver, rawTlsMaterial, type RawTcpMode, type RawTlsMaterial } from "./raw-tcp-copy.ts";
import { runSinkUploads, type SinkUploadResult } from "./sink-upload-run.ts";
import { startSinkSender, type SendStats, type SinkSender } from "./sink-sender-process.ts";
import { listenRawGrpcReceiver } from "./raw-grpc-copy.ts";

type Method = "oneFile" | "perFrame" | "tlsOneFile" | "grpcOneFile" | "sink" | "sink2" | "sinkUnary";

interface RawRun {
  MBps: number;
  /** CPU seconds per 10^9 bytes: receiving process, sending process. */
  receiverCpu: number;
  senderCpu: number;
}

async function rawRun(sender: SinkSender, dir: string, mode: RawTcpMode, frameBytes: number, frames: number, tls?: RawTlsMaterial): Promise<RawRun> {
  const receiver = await listenRawTcpReceiver(dir, mode, frameBytes, tls);
  return measureCopy(dir, receiver, () => sender.raw(receiver.port, frameBytes, frames, tls));
}

/** The bare grpc-js arm (bench/raw-grpc-copy.ts): what any gRPC sink could reach here. */
async function grpcRun(sender: SinkSender, dir: string, frameBytes: number, frames: number, tls: RawTlsMaterial): Promise<RawRun> {
  const receiver = await listenRawGrpcReceiver(dir, tls);
  return measureCopy(dir, receiver, () => sender.grpc(receiver.port, frameBytes, frames, tls));
}

async function measureCopy(dir: string, receiver: { received: Promise<number>; close(): unknown }, send: () => Promise<SendStats>): Promise<RawRun> {
  try {
    const cpu = process.cpuUsage();
    const sent = await send();
    const stored = await receiver.received;
    const used = process.cpuUsage(cpu);
    if (stored !== sent.bytes) throw new Error(`raw copy: receiver stored ${stored} bytes, ${sent.bytes} sent`);
    return { MBps: sent.bytes / MB / sent.seconds, receiverCpu: ((used.user + used.system) / 1e6 / sent.bytes) * 1e9, senderCpu: (sent.cpuMicros / 1e6 / sent.bytes) * 1e9 };
  } finally {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const best = (xs: readonly number[]): number => Math.max(...xs);
const least = (xs: readonly number[]): number => Math.min(...xs);

async function sinkThroughputBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "64" }, "frame-bytes": { default: "1048576,204800" }, rounds: { default: "2" }, "chunk-size": { default: "8" }, dir: { default: "" }, "unary-arm": { default: "false" } });
  const unaryArm = f["unary-arm"] === "true";
  const frames = intFlag("frames", f.frames, 1, 4096);
  const rounds = intFlag("rounds", f.rounds, 1, 5);
  const chunkSize = intFlag("chunk-size", f["chunk-size"], 1, 64);
  const sizes = intListFlag("frame-bytes", f["frame-bytes"], 1024, 32 * 1024 * 1024);
  const log = benchLogger("bench-sink-throughput");
  const tls = await rawTlsMaterial();
  const sender = await startSinkSender();

  return cleanupOnInterrupt(() => sender.stop(), () => withTempDir("nightshift-bench-sink-", parentDirFlag(f.dir), async (dir) => {
    const results: Array<Record<string, unknown>> = [];
    for (const [n, frameBytes] of sizes.entries()) {
      const raws: Record<Exclude<Method, "sink" | "sink2" | "sinkUnary">, RawRun[]> = { oneFile: [], perFrame: [], tlsOneFile: [], grpcOneFile: [] };
      const sinkRuns: SinkUploadResult[] = [];
      const sink2Runs: SinkUploadResult[] = [];
      const unaryRuns: SinkUploadResult[] = [];
      for (let r = 0; r < rounds; r++) {
        // Alternate the order so that neither side always runs first (cold) or last.
        const forward: Method[] = ["oneFile", "tlsOneFile", "grpcOneFile", "perFrame", "sink", ...(unaryArm ? (["sinkUnary"] as const) : []), "sink2"];
        const order: Method[] = r % 2 === 0 ? forward : [...forward].reverse();
        for (const m of order) {
          const at = join(dir, `${m}-${n}-${r}`);
          if (m === "sink" || m === "sink2" || m === "sinkUnary") {
            const sink = await runSinkUploads({ dir: at, modelsDir: BUNDLED_MODELS_DIR, frameBytes, frames, chunkSize, inFlight: m === "sink2" ? 2 : 1, via: m === "sinkUnary" ? "unary" : "stream", sender, log });
            rmSync(at, { recursive: true, force: true });
            (m === "sink2" ? sink2Runs : m === "sinkUnary" ? unaryRuns : sinkRuns).push(sink);
          } else if (m === "grpcOneFile") {
            raws[m].push(await grpcRun(sender, at, frameBytes, frames, tls));
          } else {
            raws[m].push(await rawRun(sender, at, m === "perFrame" ? "file-per-frame" : "one-file", frameBytes, frames, m === "tlsOneFile" ? tls : undefined));
          }
        }
      }
      const sinkMBpsRuns = sinkRuns.map((s) => s.bytes / MB / s.uploadSeconds);
      const raw = best(raws.oneFile.map((x) => x.MBps));
      const rawTls = best(raws.tlsOneFile.map((x) => x.MBps));
      const rawPerFrame = best(raws.perFrame.map((x) => x.MBps));
      const rawGrpc = best(raws.grpcOneFile.map((x) => x.MBps));
      const sinkMBps = best(sinkMBpsRuns);
      const sink2MBpsRuns = sink2Runs.map((s) => s.bytes / MB / s.uploadSeconds);
      const sink2MBps = best(sink2MBpsRuns);
      const top = sinkRuns[sinkMBpsRuns.indexOf(sinkMBps)]!;
      const unaryMBpsRuns = unaryRuns.map((s) => s.bytes / MB / s.uploadSeconds);
      const unaryTop = unaryRuns[unaryMBpsRuns.indexOf(best(unaryMBpsRuns))];
      const unary = unaryTop
        ? {
            sinkUnaryMBps: round(best(unaryMBpsRuns), 1),
            ratioUnary: round(best(unaryMBpsRuns) / raw, 3),
            streamVsUnary: round(sinkMBps / best(unaryMBpsRuns), 3),
            uploadMsPerChunkUnary: { p50: round(percentile(unaryTop.uploadMs, 50), 1), p90: round(percentile(unaryTop.uploadMs, 90), 1) },
          }
        : {};
      const perGB = (seconds: number, bytes: number): number => round((seconds / bytes) * 1e9, 2);
      results.push({
        frameBytes,
        frames,
        chunks: top.chunks,
        totalBytes: top.bytes,
        rawTcpMBps: round(raw, 1),
        sinkMBps: round(sinkMBps, 1),
        ratio: round(sinkMBps / raw, 3),
        rawTlsMBps: round(rawTls, 1),
        ratioVsRawTls: round(sinkMBps / rawTls, 3),
        sinkTwoInFlightMBps: round(sink2MBps, 1),
        ratioTwoInFlight: round(sink2MBps / raw, 3),
        bareGrpcMBps: round(rawGrpc, 1),
        ratioVsBareGrpc: round(sinkMBps / rawGrpc, 3),
        bareGrpcVsRawTls: round(rawGrpc / rawTls, 3),
        rawTcpFsyncPerFrameMBps: round(rawPerFrame, 1),
        ratioVsFsyncPerFrame: round(sinkMBps / rawPerFrame, 3),
        uploadMsPerChunk: { p50: round(percentile(top.uploadMs, 50), 1), p90: round(percentile(top.uploadMs, 90), 1) },
        ...unary,
        cpuSecondsPerGB: {
          ...(unaryTop ? { sinkUnary: { receiver: round(least(unaryRuns.map((s) => (s.sinkCpuSeconds / s.bytes) * 1e9)), 2), sender: round(least(unaryRuns.map((s) => (s.agentCpuSeconds / s.bytes) * 1e9)), 2) } } : {}),
          sink: { receiver: round(least(sinkRuns.map((s) => (s.sinkCpuSeconds / s.bytes) * 1e9)), 2), sender: round(least(sinkRuns.map((s) => (s.agentCpuSeconds / s.bytes) * 1e9)), 2) },
          sinkTwoInFlight: { receiver: round(least(sink2Runs.map((s) => (s.sinkCpuSeconds / s.bytes) * 1e9)), 2), sender: round(least(sink2Runs.map((s) => (s.agentCpuSeconds / s.bytes) * 1e9)), 2) },
          rawTcp: { receiver: round(least(raws.oneFile.map((x) => x.receiverCpu)), 2), sender: round(least(raws.oneFile.map((x) => x.senderCpu)), 2) },
          rawTls: { receiver: round(least(raws.tlsOneFile.map((x) => x.receiverCpu)), 2), sender: round(least(raws.tlsOneFile.map((x) => x.senderCpu)), 2) },
          bareGrpc: { receiver: round(least(raws.grpcOneFile.map((x) => x.receiverCpu)), 2), sender: round(least(raws.grpcOneFile.map((x) => x.senderCpu)), 2) },
        },
        sinkCpuSecondsPerGB: perGB(top.sinkCpuSeconds, top.bytes),
        sinkWithClaimsMBps: round(best(sinkRuns.map((x) => x.bytes / MB / x.wallSeconds)), 1),
        runs: {
          rawTcpMBps: raws.oneFile.map((x) => round(x.MBps, 1)),
          rawTlsMBps: raws.tlsOneFile.map((x) => round(x.MBps, 1)),
          bareGrpcMBps: raws.grpcOneFile.map((x) => round(x.MBps, 1)),
          rawTcpFsyncPerFrameMBps: raws.perFrame.map((x) => round(x.MBps, 1)),
          sinkMBps: sinkMBpsRuns.map((v) => round(v, 1)),
          sinkTwoInFlightMBps: sink2MBpsRuns.map((v) => round(v, 1)),
          ...(unaryTop ? { sinkUnaryMBps: unaryMBpsRuns.map((v) => round(v, 1)) } : {}),
        },
      });
    }
    const first = results[0] as Record<string, unknown>;
    return {
      benchmark: "sink-throughput",
      // The first size's figures at the top level; every size under results.
      frames,
      frameBytes: first.frameBytes,
      rawTcpMBps: first.rawTcpMBps,
      sinkMBps: first.sinkMBps,
      ratio: first.ratio,
      results,
      unit: "MB/s = 10^6 bytes per second of frame payload",
      topology: "receiver (coordinator, raw server) in the bench process; sender (bench agent, raw client) in a forked process of its own (bench/sink-sender-process.ts); loopback",
      definitions: {
        rawTcpMBps:
          "net.createServer on 127.0.0.1:0; the client (other process) writes the frames back to back (awaiting drain); the server appends each received buffer to one file (awaited write), fsyncs once at the end, closes, then replies one byte; clock from connect to that reply",
        rawTlsMBps: "as rawTcpMBps over mutual TLS (ECDSA P-256 certificates, Node's default TLS 1.3 cipher): what TLS alone costs",
        bareGrpcMBps:
          "bare grpc-js (bench/raw-grpc-copy.ts): one client-streaming call over mutual TLS, one message per frame, no protobuf, the server's receive window widened as the coordinator's; the server appends each message to one file (awaited write) and fsyncs once at the end before answering. The ceiling of any gRPC sink here: sink/bareGrpc is nightshift's own cost, bareGrpc/rawTls is grpc-js's and Node's",
        rawTcpFsyncPerFrameMBps: "as rawTcpMBps, but the server cuts the stream into frames and writes each to a new file with fsync (the sink's writeFileDurable); no checksum, rename or SQLite",
        sinkMBps: `sum over chunks (${chunkSize} frames each) of agent/grpc/result-uploader.ts uploadAttempt to a real Coordinator: each chunk's messages on the agent's one ResultSink.UploadStream over mutual TLS, sha256 on both sides, one staged file with fsync per frame, SQLite commit, rename into place, directory fsync, each chunk answered on the stream`,
        sinkUnaryMBps: "with --unary-arm: as sinkMBps, but each chunk its own ResultSink.Upload call (a gRPC client stream), as before UploadStream; streamVsUnary = sinkMBps / sinkUnaryMBps",
        sinkTwoInFlightMBps:
          "as sinkMBps with two chunks uploading at once, as a busy agent does (agent/work/chunk-runner.ts frees the device before a chunk's upload ends, so the next chunk streams its frames while this one commits); bytes over the time at least one upload ran",
        uploadMsPerChunk: "the sink run with the best MB/s: each uploadAttempt call, first message to the commit's answer (a commit's latency with --chunk-size 1)",
        cpuSecondsPerGB: "CPU seconds (user + system, all threads) per 10^9 bytes of frames, least of the rounds, for each process: receiver = the coordinator (claims and the bench's polling for queued chunks included, first upload to last) or raw server, sender = the agent or raw client",
        sinkCpuSecondsPerGB: "the coordinator's process in the sink run with the best MB/s",
        sinkWithClaimsMBps: "first claim to last commit, so also the claim calls and waiting for the dispatcher to queue the next chunk",
      },
      aggregation: `best of ${rounds} rounds for every MB/s figure, least for CPU (each round runs raw, raw TLS, bare grpc-js, raw per-frame, sink and sink with two in flight; odd rounds in reverse order); every run is listed under results[].runs`,
      chunkSize,
      payloads: `8 random buffers per size, reused round-robin (frame i gets buffer i mod 8)`,
      tempFileSystem: fileSystemType(dir),
    };
  }).finally(() => sender.stop()));
}

runBench(() => sinkThroughputBench(process.argv.slice(2)));
