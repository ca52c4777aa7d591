/**
 * What signed provenance costs per frame, against the render of that frame,
 * for the demo job, in one run.
 *
 *   node --import tsx bench/provenance-cost.bench.ts [--frames 48] [--width 320 --height 180] [--rounds 5] [--dir PARENT]
 *
 * One chunk of the demo job as the farm runs it: the colour-grade model
 * through the OnnxExecutor as an agent runs it (read, model, PNG encode;
 * intraOpThreads 1), each frame handed to the coordinator's ResultSink as it
 * is made (stage, fsync, commit, rename). Once without provenance and once
 * with it (FrameStamper: pixel hash on its thread, record built and signed at
 * the commit, appended before the frame's one fsync), alternating, `rounds`
 * times each; medians. Ratio = (with - without) / without, per frame (aim:
 * under 0.02). Also: the provenance work on the sink's event loop
 * (split at IEND, hand to the hash thread, build + sign + append at commit),
 * the pixel decode done on the hash thread, and the job's manifest.json.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { OnnxExecutor } from "../agent/executors/onnx-executor.ts";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { FrameStamper } from "../coordinator/provenance/frame-stamper.ts";
import { JobManifestWriter } from "../coordinator/provenance/job-manifest.ts";
import { openProvenanceSigner } from "../coordinator/provenance/provenance-key.ts";
import { JobSpecs } from "../coordinator/jobs/job-specs.ts";
import { ResultSink } from "../coordinator/sink/result-sink.ts";
import type { JobRow } from "../coordinator/store/jobs-table.ts";
import { Store } from "../coordinator/store/store.ts";
import { StudioCa } from "../coordinator/trust/studio-ca.ts";
import { generateFrame } from "../shared/media/generated-frames.ts";
import { splitAtEnd } from "../shared/media/png-text-chunk.ts";
import { pixelsOf } from "../shared/provenance/pixel-hash.ts";
import { PROVENANCE_KEYWORD } from "../shared/provenance/provenance-manifest.ts";
import { resolveModel } from "../shared/model-manifest/model-registry.ts";
import { silentLogger } from "../shared/log.ts";
import { startAttempt } from "../test/helpers/sink-fixture.ts";
import { insertAgent, insertChunks, insertJob } from "../test/helpers/store-fixture.ts";
import { fileSystemType, intFlag, nowSeconds, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

async function provenanceBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "48" }, width: { default: "320" }, height: { default: "180" }, rounds: { default: "5" }, dir: { default: "" } });
  const frames = intFlag("frames", f.frames, 1, 10_000);
  const width = intFlag("width", f.width, 16, 3840);
  const height = intFlag("height", f.height, 16, 2160);
  const rounds = intFlag("rounds", f.rounds, 1, 100);
  return withTempDir("nightshift-bench-provenance-", parentDirFlag(f.dir), async (dir) => {
    // Render, as the agent does.
    const model = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade");
    const executor = new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 });
    await executor.load();
    const render = (): AsyncIterable<{ index: number; data: Uint8Array }> =>
      executor.run({
        jobId: "bench", chunkId: "bench", attemptId: "bench", frames: Array.from({ length: frames }, (_, i) => i), seed: 7,
        readFrame: (i) => Promise.resolve(generateFrame(i, width, height, 7)),
        signal: new AbortController().signal,
      });
    const pngs: Uint8Array[] = [];
    for await (const frame of render()) pngs.push(frame.data);

    // The sink, as the coordinator runs it: a real store, CA, key, output root.
    const store = Store.open(join(dir, "store.sqlite"));
    try {
      const outputRoot = join(dir, "out");
      mkdirSync(outputRoot, { recursive: true });
      const agent = insertAgent(store);
      const ca = await StudioCa.open(join(dir, "ca"));
      const signer = await openProvenanceSigner(dir, ca);
      const specs = new JobSpecs();
      const stamper = new FrameStamper(store, specs, signer, Date.now, silentLogger());
      const acc = { wallSeconds: 1, busySeconds: 1, energyJoules: 100, energySource: "estimate" as const, idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram" as const, meanWatts: 1, samples: 1 };
      const incoming = (index: number, data: Uint8Array) => ({ index, data, sha256: createHash("sha256").update(data).digest("hex"), size: data.length, format: "png" });
      const upload = async (withProvenance: boolean, name: string): Promise<{ seconds: number; commitSeconds: number; job: JobRow }> => {
        const job = insertJob(store, { frameEnd: frames - 1, outputDir: join(outputRoot, name), modelSha256: model.manifest.sha256 });
        const [chunk] = insertChunks(store, job.id, [[0, frames - 1]]);
        startAttempt(store, chunk!.id, agent.id, `att_${name}`);
        const sink = new ResultSink(store, (j, i) => join(j.outputDir, `frame_${i}.png`), { outputRoot, maxFrameBytes: 64 << 20, ...(withProvenance ? { stamper } : {}) }, Date.now, silentLogger(), () => undefined);
        const t0 = nowSeconds();
        const session = await sink.begin({ jobId: job.id, chunkId: chunk!.id, attemptId: `att_${name}`, agentId: agent.id, frameCount: frames });
        // Frames reach the sink as the agent renders them, as on the farm (agent and sink share this machine's cores here).
        for await (const f of render()) await session.addFrame(incoming(f.index, f.data));
        const c0 = nowSeconds();
        await session.commit(acc);
        return { seconds: nowSeconds() - t0, commitSeconds: nowSeconds() - c0, job };
      };
      await upload(true, "warm-p");
      await upload(false, "warm-n");
      const plain: number[] = [];
      const signed: number[] = [];
      const commits = { without: [] as number[], with: [] as number[] };
      let lastJob: JobRow | undefined;
      for (let r = 0; r < rounds; r++) {
        const n = await upload(false, `n${r}`);
        plain.push(n.seconds);
        commits.without.push(n.commitSeconds);
        const s = await upload(true, `p${r}`);
        signed.push(s.seconds);
        commits.with.push(s.commitSeconds);
        lastJob = s.job;
      }

      // The same parts taken apart: the event loop's share and the hash thread's decode.
      const h = { jobId: lastJob!.id, chunkId: `${lastJob!.id}_c0`, attemptId: `att_p${rounds - 1}`, agentId: agent.id, frameCount: frames };
      const l0 = nowSeconds();
      const hashes = pngs.map((png) => {
        splitAtEnd(png, PROVENANCE_KEYWORD);
        return stamper.hashPixels(png);
      });
      const dispatchSeconds = nowSeconds() - l0;
      const pixels = await Promise.all(hashes);
      const b0 = nowSeconds();
      const records = stamper.recordChunks(h, pixels.map((p, index) => ({ index, pngSha256: incoming(index, pngs[index]!).sha256, pixels: p })), frames, acc);
      const recordSeconds = nowSeconds() - b0;
      const d0 = nowSeconds();
      for (const png of pngs) pixelsOf(png);
      const decodeSeconds = nowSeconds() - d0;
      await stamper.close();

      const m0 = nowSeconds();
      const written = new JobManifestWriter(store, specs, signer, Date.now, silentLogger()).write(lastJob!, "done");
      await executor.close();
      const jobManifestSeconds = nowSeconds() - m0;
      if (written === undefined) throw new Error("job manifest was not written");
      const plainPerFrame = median(plain) / frames;
      const signedPerFrame = median(signed) / frames;
      const loopPerFrame = (dispatchSeconds + recordSeconds) / frames;
      const ms = (sec: number): number => round(sec * 1000, 3);
      return {
        benchmark: "provenance-cost",
        frames,
        width,
        height,
        rounds,
        model: "colour-grade",
        frameMs: ms(plainPerFrame),
        frameWithProvenanceMs: ms(signedPerFrame),
        provenanceMsPerFrame: ms(signedPerFrame - plainPerFrame),
        ratio: round((signedPerFrame - plainPerFrame) / plainPerFrame, 4),
        aim: "ratio < 0.02",
        roundsMsPerFrame: { without: plain.map((x) => ms(x / frames)), with: signed.map((x) => ms(x / frames)) },
        commitMsPerChunk: { without: ms(median(commits.without)), with: ms(median(commits.with)) },
        eventLoopMsPerFrame: ms(loopPerFrame),
        eventLoopRatio: round(loopPerFrame / plainPerFrame, 4),
        hashThreadDecodeMsPerFrame: ms(decodeSeconds / frames),
        jobManifestMsPerFrame: ms(jobManifestSeconds / frames),
        pngBytes: pngs[0]?.length ?? 0,
        recordBytes: records.get(0)?.length ?? 0,
        tempFileSystem: fileSystemType(dir),
        definitions: {
          frame: "one chunk of the demo job, per frame: OnnxExecutor.run (generated input, colour-grade model, PNG encode, intraOpThreads 1) feeding a ResultSink upload as each frame is made (stage, fsync, store transaction, rename); median of rounds",
          provenance: "frame time with the FrameStamper minus without it",
          commit: "UploadSession.commit per chunk (with provenance: wait for the last pixel hashes, sign, append, then every frame's fsync)",
          eventLoop: "provenance work on the sink's thread: split at IEND + hand the PNG to the hash thread, then build + sign + iTXt chunk at commit",
          hashThreadDecode: "pixel hash (zlib + PNG row filters + sha256) per frame, on the hasher's worker thread, overlapped with the upload",
          jobManifest: "manifest.json once per job (hash every file, sign, write + fsync + rename), divided by frames; not in the ratio",
        },
      };
    } finally {
      store.close();
    }
  });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

runBench(() => provenanceBench(process.argv.slice(2)));
