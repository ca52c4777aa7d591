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
 * with it (the agent hashes each frame's pixels before encoding and sends the
 * hash; FrameStamper: the agent's hash taken, a sample of them checked by
 * decoding on its thread; the frame staged with room for its record and
 * fsynced as it arrives; at the commit the chunk's records built and signed
 * once (nightshift-frame/2), written into that room and fdatasynced), alternating (which goes first alternates too), `rounds`
 * times each; medians. Ratio = (with - without) / without, per frame (aim:
 * under 0.02). Also: the provenance work on the sink's event loop
 * (split at IEND, hand to the hash thread, build + sign + append at commit),
 * the pixel decode done on the hash thread, and the job's manifest.json.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { EncodedFrame } from "../agent/executors/executor.ts";
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
import { decodePng } from "../shared/media/png-codec.ts";
import { readTextChunk, splitAtEnd } from "../shared/media/png-text-chunk.ts";
import { pixelsOf, rgbPixelsSha256 } from "../shared/provenance/pixel-hash.ts";
import { frameManifestSchema, PROVENANCE_KEYWORD, type FrameManifest } from "../shared/provenance/provenance-manifest.ts";
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
    // With provenance the agent sends each frame's pixel hash (taken before encoding); without, it does not.
    const executors = {
      with: new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 }),
      without: new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1, pixelHashes: false }),
    };
    await executors.with.load();
    await executors.without.load();
    const render = (withProvenance = true): AsyncIterable<EncodedFrame> =>
      executors[withProvenance ? "with" : "without"].run({
        jobId: "bench", chunkId: "bench", attemptId: "bench", frames: Array.from({ length: frames }, (_, i) => i), seed: 7,
        readFrame: (i) => Promise.resolve(generateFrame(i, width, height, 7)),
        signal: new AbortController().signal,
      });
    const pngs: Uint8Array[] = [];
    const claims: string[] = [];
    for await (const frame of render()) {
      pngs.push(frame.data);
      claims.push(frame.pixelsSha256 ?? "");
    }

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
      const incoming = (f: EncodedFrame) => ({ index: f.index, data: f.data, sha256: createHash("sha256").update(f.data).digest("hex"), size: f.data.length, format: "png", pixelsSha256: f.pixelsSha256 ?? "" });
      const upload = async (withProvenance: boolean, name: string): Promise<{ seconds: number; commitSeconds: number; job: JobRow }> => {
        const job = insertJob(store, { frameEnd: frames - 1, outputDir: join(outputRoot, name), modelSha256: model.manifest.sha256 });
        const [chunk] = insertChunks(store, job.id, [[0, frames - 1]]);
        startAttempt(store, chunk!.id, agent.id, `att_${name}`);
        const sink = new ResultSink(store, (j, i) => join(j.outputDir, `frame_${i}.png`), { outputRoot, maxFrameBytes: 64 << 20, ...(withProvenance ? { stamper } : {}) }, Date.now, silentLogger(), () => undefined);
        const t0 = nowSeconds();
        const session = await sink.begin({ jobId: job.id, chunkId: chunk!.id, attemptId: `att_${name}`, agentId: agent.id, frameCount: frames });
        // Frames reach the sink as the agent renders them, as on the farm (agent and sink share this machine's cores here).
        for await (const f of render(withProvenance)) await session.addFrame(incoming(f));
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
      const signedJobs: JobRow[] = [];
      // Which arm goes first alternates by round: with the stamper left out of both arms, always running second measured 13 % slower (loaded machine).
      for (let r = 0; r < rounds; r++) {
        for (const withProvenance of r % 2 === 0 ? [false, true] : [true, false]) {
          const u = await upload(withProvenance, `${withProvenance ? "p" : "n"}${r}`);
          (withProvenance ? signed : plain).push(u.seconds);
          (withProvenance ? commits.with : commits.without).push(u.commitSeconds);
          if (withProvenance) signedJobs.push(u.job);
        }
        lastJob = signedJobs[r];
      }

      // The same parts taken apart: the event loop's share and the hash thread's decode.
      const h = { jobId: lastJob!.id, chunkId: `${lastJob!.id}_c0`, attemptId: `att_p${rounds - 1}`, agentId: agent.id, frameCount: frames };
      const l0 = nowSeconds();
      const hashes = pngs.map((png, i) => {
        splitAtEnd(png, PROVENANCE_KEYWORD);
        return stamper.hashPixels(png, { sha256: claims[i]!, agentId: agent.id });
      });
      const dispatchSeconds = nowSeconds() - l0;
      const pixels = await Promise.all(hashes);
      const b0 = nowSeconds();
      const records = stamper.recordChunks(h, pixels.map((p, index) => ({ index, pngSha256: incoming({ index, data: pngs[index]!, format: "png" }).sha256, pixels: p })), frames, acc);
      const recordSeconds = nowSeconds() - b0;
      const d0 = nowSeconds();
      for (const png of pngs) pixelsOf(png);
      const decodeSeconds = nowSeconds() - d0;
      const rgbs = pngs.map((png) => decodePng(png));
      const a0 = nowSeconds();
      for (const frame of rgbs) rgbPixelsSha256(frame);
      const agentHashSeconds = nowSeconds() - a0;
      // Whose pixel hash each frame of the measured "with" rounds names (the coordinator's where it checked the agent's claim).
      const by = { agent: 0, coordinator: 0 };
      for (let r = 0; r < rounds; r++) {
        for (const row of store.frames.listByJob(signedJobs[r]!.id)) by[recordOf(readFileSync(row.path)).pixels.by ?? "coordinator"]++;
      }
      await stamper.close();

      const m0 = nowSeconds();
      const written = new JobManifestWriter(store, specs, signer, Date.now, silentLogger()).write(lastJob!, "done");
      await executors.with.close();
      await executors.without.close();
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
        agentPixelHashMsPerFrame: ms(agentHashSeconds / frames),
        pixelHashBy: by,
        jobManifestMsPerFrame: ms(jobManifestSeconds / frames),
        pngBytes: pngs[0]?.length ?? 0,
        recordBytes: records.get(0)?.length ?? 0,
        tempFileSystem: fileSystemType(dir),
        definitions: {
          frame: "one chunk of the demo job, per frame: OnnxExecutor.run (generated input, colour-grade model, PNG encode, intraOpThreads 1) feeding a ResultSink upload as each frame is made (stage, fsync, store transaction, rename); median of rounds",
          provenance: "frame time with the FrameStamper minus without it",
          commit: "UploadSession.commit per chunk (with provenance: wait for the last pixel hashes, build the records and sign the chunk once, write each record into its frame's reserved room and fdatasync it)",
          eventLoop: "provenance work on the sink's thread: split at IEND + hand the PNG to the hash thread, then build the records + one signature per chunk + iTXt chunks at commit",
          hashThreadDecode: "pixel hash (zlib + PNG row filters + sha256) per frame, on the hasher's worker thread, overlapped with the upload: done for frames that come without the agent's hash and for the agent's claims the coordinator checks",
          agentPixelHash: "sha256 of a frame's RGB8 samples on the agent before encoding (in the 'with' frame time, not in 'without')",
          pixelHashBy: "frames of the measured 'with' rounds whose record names the agent's pixel hash vs the coordinator's (its first claim per agent, then a random 1/32 are checked by decoding)",
          jobManifest: "manifest.json once per job (hash every file, sign, write + fsync + rename), divided by frames; not in the ratio",
        },
      };
    } finally {
      store.close();
    }
  });
}

function recordOf(bytes: Uint8Array): FrameManifest {
  return frameManifestSchema.parse((JSON.parse(readTextChunk(bytes, PROVENANCE_KEYWORD) ?? "null") as { manifest: unknown }).manifest);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

runBench(() => provenanceBench(process.argv.slice(2)));
