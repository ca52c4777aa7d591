/**
 * What the job's manifest.json costs at the job's end, and what recording
 * its facts at the commit adds to the sink's path, in one run:
 *
 *   node --import tsx bench/job-manifest-cost.bench.ts [--frames 512,2048,4096] [--width 8 --height 8] [--rounds 5] [--dir PARENT]
 *
 * A real store, CA, key, FrameStamper and ResultSink commit a job of
 * `frames` PNG frames (chunks of 4, as the scheduling bench's sleep farm
 * makes them: 8x8 by default), then the job's manifest is written
 * (coordinator/provenance/job-manifest.ts) `rounds` times each way,
 * alternating which goes first:
 *  - store: each frame's sha256 and pixel hash from the frames table, where
 *    the sink recorded them at the commit (this round's path);
 *  - readBack: the same rows with those columns cleared, so every frame file
 *    is read back and hashed, its record parsed (the path before it; still
 *    the one for rows committed before the columns existed).
 * Both manifests are checked to list the same frames with the same hashes.
 *
 * The commit path's added work, CPU per frame (median of many), against the
 * sha256 the sink already takes of every frame on arrival (verifyFrame):
 *  - splitHash: verify's one pass taken in two parts with a copy of the
 *    state at the PNG's IEND (the stamped file's hash goes on from it);
 *  - finishHash: that copy finished over the record chunk and IEND at the commit;
 *  - embeddedParse: the pixel hash read from a frame stored as sent (its
 *    iTXt record found and parsed), for frames that come with a record.
 * An EXR's file hash is one sha256 over the rewritten file at the commit:
 * bench/exr-stamp.bench.ts times that path whole.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { FrameStamper } from "../coordinator/provenance/frame-stamper.ts";
import { embeddedPixelsSha256 } from "../coordinator/provenance/embedded-pixels-sha256.ts";
import { JobManifestWriter } from "../coordinator/provenance/job-manifest.ts";
import { openProvenanceSigner } from "../coordinator/provenance/provenance-key.ts";
import { JobSpecs } from "../coordinator/jobs/job-specs.ts";
import { ResultSink } from "../coordinator/sink/result-sink.ts";
import type { JobRow } from "../coordinator/store/jobs-table.ts";
import { Store } from "../coordinator/store/store.ts";
import { StudioCa } from "../coordinator/trust/studio-ca.ts";
import { generateFrame } from "../shared/media/generated-frames.ts";
import { encodePng } from "../shared/media/png-codec.ts";
import { itxtChunk, splitAtEnd, withTextChunk } from "../shared/media/png-text-chunk.ts";
import { rgbPixelsSha256 } from "../shared/provenance/pixel-hash.ts";
import { jobManifestSchema, PROVENANCE_KEYWORD } from "../shared/provenance/provenance-manifest.ts";
import { silentLogger } from "../shared/log.ts";
import { startAttempt } from "../test/helpers/sink-fixture.ts";
import { insertAgent, insertChunks, insertJob } from "../test/helpers/store-fixture.ts";
import { intFlag, intListFlag, median, nowSeconds, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

const CHUNK_FRAMES = 4;
const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** CPU microseconds per call of `fn` over `calls` calls, median of 15 runs. */
function cpuPerCall(calls: number, fn: (i: number) => unknown): number {
  const runs: number[] = [];
  for (let r = 0; r < 15; r++) {
    const c0 = cpuMicros();
    for (let i = 0; i < calls; i++) fn(i);
    runs.push((cpuMicros() - c0) / calls);
  }
  return median(runs);
}

async function manifestBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "512,2048,4096" }, width: { default: "8" }, height: { default: "8" }, rounds: { default: "5" }, dir: { default: "" } });
  const counts = intListFlag("frames", f.frames, CHUNK_FRAMES, 100_000);
  const width = intFlag("width", f.width, 1, 3840);
  const height = intFlag("height", f.height, 1, 2160);
  const rounds = intFlag("rounds", f.rounds, 1, 50);
  return withTempDir("nightshift-bench-job-manifest-", parentDirFlag(f.dir), async (dir) => {
    const store = Store.open(join(dir, "store.sqlite"));
    const signer = await openProvenanceSigner(dir, await StudioCa.open(join(dir, "ca")));
    const frameStamper = new FrameStamper(store, new JobSpecs(), signer, Date.now, silentLogger());
    try {
      const outputRoot = join(dir, "out");
      mkdirSync(outputRoot, { recursive: true });
      const agent = insertAgent(store);
      const rgb = generateFrame(1, width, height, 7);
      const png = encodePng(rgb);
      const incoming = (index: number) => ({ index, data: png, sha256: sha256Hex(png), size: png.length, format: "png", pixelsSha256: rgbPixelsSha256(rgb) });
      const acc = { wallSeconds: 1, busySeconds: 1, energyJoules: 100, energySource: "estimate" as const, idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram" as const, meanWatts: 1, samples: 1 };
      const sink = new ResultSink(store, (j, i) => join(j.outputDir, `frame_${String(i).padStart(6, "0")}.png`), { outputRoot, maxFrameBytes: 64 << 20, stamper: frameStamper }, Date.now, silentLogger(), () => undefined);

      /** A committed job of `frames` frames, chunks of CHUNK_FRAMES, through the real sink. */
      const commitJob = async (frames: number): Promise<JobRow> => {
        const job = insertJob(store, { frameEnd: frames - 1, outputDir: join(outputRoot, `job${frames}`) });
        const spans = Array.from({ length: frames / CHUNK_FRAMES }, (_, c) => [c * CHUNK_FRAMES, c * CHUNK_FRAMES + CHUNK_FRAMES - 1] as const);
        for (const [c, chunk] of insertChunks(store, job.id, spans).entries()) {
          startAttempt(store, chunk.id, agent.id, `att_${frames}_${c}`);
          const session = await sink.begin({ jobId: job.id, chunkId: chunk.id, attemptId: `att_${frames}_${c}`, agentId: agent.id, frameCount: CHUNK_FRAMES });
          for (let i = chunk.frameStart; i <= chunk.frameEnd; i++) await session.addFrame(incoming(i));
          await session.commit(acc);
        }
        return store.jobs.get(job.id)!;
      };

      const writer = new JobManifestWriter(store, new JobSpecs(), signer, Date.now, silentLogger());
      const saved = (jobId: string) => store.db.prepare(`SELECT frame, file_sha256 AS f, pixels_sha256 AS p FROM frames WHERE job_id = ?`).all(jobId) as Array<{ frame: number; f: string; p: string | null }>;
      const jobs: Array<Record<string, unknown>> = [];
      for (const frames of counts.map((n) => n - (n % CHUNK_FRAMES))) {
        const job = await commitJob(frames);
        const rows = saved(job.id);
        const restore = store.db.prepare(`UPDATE frames SET file_sha256 = ?, pixels_sha256 = ? WHERE job_id = ? AND frame = ?`);
        const timed = async (readBack: boolean): Promise<{ ms: number; text: string }> => {
          if (readBack) store.db.prepare(`UPDATE frames SET file_sha256 = NULL, pixels_sha256 = NULL WHERE job_id = ?`).run(job.id);
          else store.tx(() => rows.forEach((r) => restore.run(r.f, r.p, job.id, r.frame)));
          const t0 = nowSeconds();
          const text = await writer.write(job, "done");
          const ms = (nowSeconds() - t0) * 1000;
          if (text === undefined) throw new Error("manifest.json was not written");
          return { ms, text };
        };
        const arms = { store: [] as number[], readBack: [] as number[] };
        let texts: { store?: string; readBack?: string } = {};
        await timed(true); // warm: the files in the page cache, as just after their commits
        for (let r = 0; r < rounds; r++) {
          for (const readBack of r % 2 === 0 ? [false, true] : [true, false]) {
            const t = await timed(readBack);
            (readBack ? arms.readBack : arms.store).push(t.ms);
            texts = { ...texts, [readBack ? "readBack" : "store"]: t.text };
          }
        }
        const framesOf = (text: string | undefined) => jobManifestSchema.parse(JSON.parse(text ?? "{}").manifest).frames;
        const same = JSON.stringify(framesOf(texts.store)) === JSON.stringify(framesOf(texts.readBack));
        if (!same) throw new Error(`job of ${frames} frames: the manifests from the store and read back differ`);
        const storeMs = median(arms.store);
        const readBackMs = median(arms.readBack);
        jobs.push({ frames, storeMs: round(storeMs, 2), readBackMs: round(readBackMs, 2), ratio: round(storeMs / readBackMs, 4), storeMsRuns: arms.store.map((x) => round(x, 2)), readBackMsRuns: arms.readBack.map((x) => round(x, 2)), sameFrames: same });
      }

      // The commit path's added work per frame, against the sha256 verifyFrame already takes.
      const calls = Math.max(50, Math.min(5000, Math.round(2e8 / Math.max(1, png.length) / 15)));
      const { head, tail } = splitAtEnd(png, PROVENANCE_KEYWORD);
      const record = itxtChunk(PROVENANCE_KEYWORD, " ".repeat(1800)); // a nightshift-frame/2 record is about 1.5-2 KB
      const end = Buffer.concat([record, tail]);
      const headState = createHash("sha256").update(head);
      const asSentWithRecord = withTextChunk(png, PROVENANCE_KEYWORD, JSON.stringify({ manifest: { pixels: { sha256: "c".repeat(64) } }, pad: "x".repeat(1500) }));
      const verifyHash = cpuPerCall(calls, () => createHash("sha256").update(png).digest("hex"));
      const splitHash = cpuPerCall(calls, () => {
        const h = createHash("sha256").update(png.subarray(0, png.length - 12));
        h.copy();
        return h.update(png.subarray(png.length - 12)).digest("hex");
      });
      const finishHash = cpuPerCall(calls, () => headState.copy().update(end).digest("hex"));
      const embeddedParse = cpuPerCall(calls, () => embeddedPixelsSha256(asSentWithRecord));
      const us = (x: number) => round(x, 2);
      return {
        benchmark: "job-manifest-cost",
        frameBytes: png.length,
        width,
        height,
        chunkFrames: CHUNK_FRAMES,
        rounds,
        jobEnd: jobs,
        commitPathCpuUsPerFrame: {
          baselineVerifyHash: us(verifyHash),
          splitHashAdded: us(splitHash - verifyHash),
          finishHash: us(finishHash),
          embeddedParse: us(embeddedParse),
          addedPerStampedPng: us(splitHash - verifyHash + finishHash),
          ratioToVerifyHash: round((splitHash - verifyHash + finishHash) / verifyHash, 4),
        },
        meaning:
          "jobEnd: manifest.json written at the job's end (ms, median of `rounds`, alternating): storeMs from the frames table (this round), readBackMs with every frame read back and hashed (before it); both list the same frames and hashes. commitPathCpuUsPerFrame: CPU microseconds the sink adds per frame to record those facts at the commit, against the sha256 of the frame it already takes on arrival (baselineVerifyHash); an as-sent frame with a record adds embeddedParse instead.",
      };
    } finally {
      await frameStamper.close();
      store.close();
    }
  });
}

runBench(() => manifestBench(process.argv.slice(2)));
