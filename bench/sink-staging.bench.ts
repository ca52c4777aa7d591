/**
 * What staging a frame costs the coordinator's event loop: the ResultSink
 * alone (real SQLite store, real files, no gRPC), one upload at a time, each
 * frame handed to UploadSession.addFrame and awaited as the gRPC handler does,
 * then the chunk committed. The event loop is what every agent's claims,
 * heartbeats and uploads share, so the figure to read is how long each frame
 * holds it (addFrame's synchronous part: checks, sha256, making the file, and
 * whatever of the write runs in line), against the same run's floor: the
 * frame's sha256 alone, which any sink that checks frames pays in line.
 *
 *   node --import tsx bench/sink-staging.bench.ts [--frame-bytes 1048576,204800] [--frames-per-chunk 8] [--chunks 16] [--rounds 3] [--dir PARENT]
 *
 * Prints one JSON object with one result per frame size: per frame, the
 * event loop held by addFrame and by the bare sha256 (medians over rounds of
 * each round's mean), their ratio, and the wall time of staging and of a
 * chunk's commit. The two arms alternate, and which goes first alternates by
 * round.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ResultSink } from "../coordinator/sink/result-sink.ts";
import { Store } from "../coordinator/store/store.ts";
import { silentLogger } from "../shared/log.ts";
import type { ChunkAccounting } from "../shared/accounting/chunk-accounting.ts";
import { startAttempt } from "../test/helpers/sink-fixture.ts";
import { insertAgent, insertChunks, insertJob } from "../test/helpers/store-fixture.ts";
import { MB, fileSystemType, intFlag, intListFlag, median, nowSeconds, parentDirFlag, parseFlags, percentile, round, runBench, withTempDir } from "./bench-cli.ts";

const ACC: ChunkAccounting = { wallSeconds: 1, busySeconds: 1, energyJoules: 1, energySource: "estimate", idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram", meanWatts: 1, samples: 1 };

interface Round {
  /** Mean ms the event loop was held per frame. */
  loopMsPerFrame: number;
  /** Frame bytes staged and committed per second of wall time. */
  MBps: number;
  commitMs: number[];
}

async function stagingBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { "frame-bytes": { default: "1048576,204800" }, "frames-per-chunk": { default: "8" }, chunks: { default: "16" }, rounds: { default: "3" }, dir: { default: "" } });
  const sizes = intListFlag("frame-bytes", f["frame-bytes"], 1024, 32 * 1024 * 1024);
  const perChunk = intFlag("frames-per-chunk", f["frames-per-chunk"], 1, 64);
  const chunkCount = intFlag("chunks", f.chunks, 1, 256);
  const rounds = intFlag("rounds", f.rounds, 1, 20);

  return withTempDir("nightshift-bench-staging-", parentDirFlag(f.dir), async (dir) => {
    const store = Store.open(join(dir, "store.sqlite"));
    try {
      const outputRoot = join(dir, "out");
      mkdirSync(outputRoot, { recursive: true });
      const agent = insertAgent(store);
      const results: Array<Record<string, unknown>> = [];
      for (const frameBytes of sizes) {
        const payloads = Array.from({ length: 8 }, () => randomBytes(frameBytes));
        const digests = payloads.map((p) => createHash("sha256").update(p).digest("hex"));
        const sink = new ResultSink(store, (j, i) => join(j.outputDir, `frame_${String(i).padStart(6, "0")}.bin`), { outputRoot, maxFrameBytes: frameBytes }, Date.now, silentLogger(), () => undefined);

        /** The sink arm: every chunk staged frame by frame (each addFrame awaited) and committed. */
        const sinkRound = async (name: string): Promise<Round> => {
          const job = insertJob(store, { frameEnd: chunkCount * perChunk - 1, outputDir: join(outputRoot, name) });
          const chunks = insertChunks(store, job.id, Array.from({ length: chunkCount }, (_, c) => [c * perChunk, (c + 1) * perChunk - 1] as const));
          let held = 0;
          const commitMs: number[] = [];
          const t0 = nowSeconds();
          for (const [c, chunk] of chunks.entries()) {
            const attemptId = `att_${name}_${c}`;
            startAttempt(store, chunk.id, agent.id, attemptId);
            const session = await sink.begin({ jobId: job.id, chunkId: chunk.id, attemptId, agentId: agent.id, frameCount: perChunk });
            for (let i = 0; i < perChunk; i++) {
              const k = (c + i) % payloads.length;
              const t = nowSeconds();
              const added = session.addFrame({ index: c * perChunk + i, data: payloads[k]!, sha256: digests[k]!, size: frameBytes, format: "bin" });
              held += nowSeconds() - t;
              await added;
            }
            const t = nowSeconds();
            await session.commit(ACC);
            commitMs.push((nowSeconds() - t) * 1000);
          }
          const frames = chunkCount * perChunk;
          return { loopMsPerFrame: (held * 1000) / frames, MBps: (frames * frameBytes) / MB / (nowSeconds() - t0), commitMs };
        };
        /** The floor: each frame's sha256, in line, nothing else. */
        const hashRound = (): number => {
          const t = nowSeconds();
          for (let n = 0; n < chunkCount * perChunk; n++) createHash("sha256").update(payloads[n % payloads.length]!).digest("hex");
          return ((nowSeconds() - t) * 1000) / (chunkCount * perChunk);
        };

        const sinkRounds: Round[] = [];
        const hashMs: number[] = [];
        for (let r = 0; r < rounds; r++) {
          if (r % 2 === 0) {
            sinkRounds.push(await sinkRound(`s${frameBytes}_${r}`));
            hashMs.push(hashRound());
          } else {
            hashMs.push(hashRound());
            sinkRounds.push(await sinkRound(`s${frameBytes}_${r}`));
          }
        }
        const loop = median(sinkRounds.map((x) => x.loopMsPerFrame));
        const hash = median(hashMs);
        results.push({
          frameBytes,
          loopMsPerFrame: round(loop, 3),
          sha256MsPerFrame: round(hash, 3),
          loopVsSha256: round(loop / hash, 2),
          stagedAndCommittedMBps: round(median(sinkRounds.map((x) => x.MBps)), 1),
          commitMs: { p50: round(percentile(sinkRounds.flatMap((x) => x.commitMs), 50), 1), p90: round(percentile(sinkRounds.flatMap((x) => x.commitMs), 90), 1) },
          runs: { loopMsPerFrame: sinkRounds.map((x) => round(x.loopMsPerFrame, 3)), sha256MsPerFrame: hashMs.map((v) => round(v, 3)), MBps: sinkRounds.map((x) => round(x.MBps, 1)) },
        });
      }
      return {
        benchmark: "sink-staging",
        framesPerChunk: perChunk,
        chunks: chunkCount,
        rounds,
        results,
        definitions: {
          loopMsPerFrame: "the synchronous part of UploadSession.addFrame per frame (checks, sha256, making the staged file, any in-line write): how long each frame holds the coordinator's event loop; median over rounds of each round's mean",
          sha256MsPerFrame: "sha256 of the same frames in line, nothing else: the floor of any sink that checks frames; from the same run, alternating with the sink arm",
          loopVsSha256: "loopMsPerFrame / sha256MsPerFrame (1.0 would be a sink whose only in-line work is the hash)",
          stagedAndCommittedMBps: "frame bytes over the wall time of staging every chunk (addFrame awaited frame by frame, as the gRPC handler does) and committing each; median of the rounds",
          commitMs: "UploadSession.commit to its answer (the frames' outstanding syncs, the staging dir's fsync, the transaction, renames, target dir fsync), over every round",
        },
        tempFileSystem: fileSystemType(dir),
      };
    } finally {
      store.close();
    }
  });
}

runBench(() => stagingBench(process.argv.slice(2)));
