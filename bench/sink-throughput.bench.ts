/**
 * How fast the result sink takes frames, against a raw TCP copy of the same bytes.
 *
 *   node --import tsx bench/sink-throughput.bench.ts [--frames 64] [--frame-bytes 1048576,204800] [--chunk-size 8] [--rounds 2] [--dir PARENT]
 *
 * Prints one JSON object with one result per frame size. Baselines and sink
 * run interleaved for --rounds rounds (default 2; odd rounds in reverse order)
 * and the best run of each is used, so the ratio is measured under the same
 * machine load and a passing disk hiccup hits neither side alone.
 * `--chunk-size 1` with small frames measures a commit's latency: each
 * upload's time from its first message to the commit's answer (p50, p90).
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { MB, benchLogger, fileSystemType, intFlag, intListFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { runRawTcpCopy, type RawTcpMode } from "./raw-tcp-copy.ts";
import { percentile } from "./comfyui-direct.ts";
import { runSinkUploads, type SinkUploadResult } from "./sink-upload-run.ts";

type Method = "oneFile" | "perFrame" | "sink";

async function rawMBps(dir: string, mode: RawTcpMode, payloads: Uint8Array[]): Promise<number> {
  try {
    const r = await runRawTcpCopy({ dir, mode, payloads });
    return r.bytes / MB / r.seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sinkThroughputBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "64" }, "frame-bytes": { default: "1048576,204800" }, rounds: { default: "2" }, "chunk-size": { default: "8" }, dir: { default: "" } });
  const frames = intFlag("frames", f.frames, 1, 4096);
  const rounds = intFlag("rounds", f.rounds, 1, 5);
  const chunkSize = intFlag("chunk-size", f["chunk-size"], 1, 64);
  const sizes = intListFlag("frame-bytes", f["frame-bytes"], 1024, 32 * 1024 * 1024);
  const log = benchLogger("bench-sink-throughput");

  return withTempDir("nightshift-bench-sink-", parentDirFlag(f.dir), async (dir) => {
    const results: Array<Record<string, unknown>> = [];
    for (const [n, frameBytes] of sizes.entries()) {
      const pool = Array.from({ length: 8 }, () => new Uint8Array(randomBytes(frameBytes)));
      const payloads = Array.from({ length: frames }, (_, i) => pool[i % pool.length]!);
      const runs: Record<Method, number[]> = { oneFile: [], perFrame: [], sink: [] };
      const sinkRuns: SinkUploadResult[] = [];
      for (let r = 0; r < rounds; r++) {
        // Alternate the order so that neither side always runs first (cold) or last.
        const order: Method[] = r % 2 === 0 ? ["oneFile", "perFrame", "sink"] : ["sink", "perFrame", "oneFile"];
        for (const m of order) {
          const at = join(dir, `${m}-${n}-${r}`);
          if (m === "sink") {
            const sink = await runSinkUploads({ dir: at, modelsDir: BUNDLED_MODELS_DIR, payloads: pool, frames, chunkSize, log });
            rmSync(at, { recursive: true, force: true });
            sinkRuns.push(sink);
            runs.sink.push(sink.bytes / MB / sink.uploadSeconds);
          } else {
            runs[m].push(await rawMBps(at, m === "oneFile" ? "one-file" : "file-per-frame", payloads));
          }
        }
      }
      const raw = Math.max(...runs.oneFile);
      const rawPerFrame = Math.max(...runs.perFrame);
      const sinkMBps = Math.max(...runs.sink);
      const best = sinkRuns[runs.sink.indexOf(sinkMBps)]!;
      results.push({
        frameBytes,
        frames,
        chunks: best.chunks,
        totalBytes: best.bytes,
        rawTcpMBps: round(raw, 1),
        sinkMBps: round(sinkMBps, 1),
        ratio: round(sinkMBps / raw, 3),
        rawTcpFsyncPerFrameMBps: round(rawPerFrame, 1),
        ratioVsFsyncPerFrame: round(sinkMBps / rawPerFrame, 3),
        uploadMsPerChunk: { p50: round(percentile(best.uploadMs, 50), 1), p90: round(percentile(best.uploadMs, 90), 1) },
        sinkCpuSecondsPerGB: round((best.uploadCpuSeconds / best.bytes) * 1e9, 2),
        sinkWithClaimsMBps: round(Math.max(...sinkRuns.map((x) => x.bytes / MB / x.wallSeconds)), 1),
        runs: { rawTcpMBps: runs.oneFile.map((v) => round(v, 1)), rawTcpFsyncPerFrameMBps: runs.perFrame.map((v) => round(v, 1)), sinkMBps: runs.sink.map((v) => round(v, 1)) },
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
      definitions: {
        rawTcpMBps:
          "net.createServer on 127.0.0.1:0; the client writes the frames back to back (awaiting drain); the server appends each received buffer to one file (awaited write), fsyncs once at the end, closes, then replies one byte; clock from connect to that reply",
        rawTcpFsyncPerFrameMBps: "as rawTcpMBps, but the server cuts the stream into frames and writes each to a new file with fsync (the sink's writeFileDurable); no checksum, rename or SQLite",
        sinkMBps: `sum over chunks (${chunkSize} frames each) of agent/grpc/result-uploader.ts uploadAttempt to a real Coordinator: gRPC client stream, sha256 on both sides, one staged file with fsync per frame, SQLite commit, rename into place, directory fsync`,
        uploadMsPerChunk: "the sink run with the best MB/s: each uploadAttempt call, first message to the commit's answer (a commit's latency with --chunk-size 1)",
        sinkCpuSecondsPerGB: "CPU seconds of the bench process (agent and coordinator in one process) during those uploadAttempt calls, per 10^9 bytes of frames",
        sinkWithClaimsMBps: "first claim to last commit, so also the claim calls and waiting for the dispatcher to queue the next chunk",
      },
      aggregation: `best of ${rounds} rounds for every figure (each round runs raw, raw per-frame and sink; odd rounds in reverse order); every run is listed under results[].runs`,
      chunkSize,
      payloads: `8 random buffers per size, reused round-robin (frame i gets buffer i mod 8)`,
      tempFileSystem: fileSystemType(dir),
    };
  });
}

runBench(() => sinkThroughputBench(process.argv.slice(2)));
