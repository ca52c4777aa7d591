/**
 * What signed provenance costs per frame, against the render of that frame,
 * for the demo job, in one run.
 *
 *   node --import tsx bench/provenance-cost.bench.ts [--frames 48] [--width 320 --height 180] [--dir PARENT]
 *
 * Render: the demo's colour-grade model through the OnnxExecutor exactly as an
 * agent runs it (read, model, PNG encode; intraOpThreads 1), seconds per frame.
 * Provenance: the coordinator's FrameStamper on those same PNGs, staged on
 * disk as the sink stages them (decode for the pixel hash, build, sign,
 * insert the iTXt chunk, write + fsync + rename), plus the job's manifest.json
 * (hash every file, sign, write) divided over the frames. Ratio = provenance
 * seconds per frame / render seconds per frame (aim: under 0.02).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OnnxExecutor } from "../agent/executors/onnx-executor.ts";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { FrameStamper } from "../coordinator/provenance/frame-stamper.ts";
import { JobManifestWriter } from "../coordinator/provenance/job-manifest.ts";
import { openProvenanceSigner } from "../coordinator/provenance/provenance-key.ts";
import { JobSpecs } from "../coordinator/jobs/job-specs.ts";
import { stagedFrameName } from "../coordinator/sink/staging.ts";
import { Store } from "../coordinator/store/store.ts";
import { StudioCa } from "../coordinator/trust/studio-ca.ts";
import { generateFrame } from "../shared/media/generated-frames.ts";
import { resolveModel } from "../shared/model-manifest/model-registry.ts";
import { silentLogger } from "../shared/log.ts";
import { insertAgent, insertChunks, insertJob } from "../test/helpers/store-fixture.ts";
import { fileSystemType, intFlag, nowSeconds, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

async function provenanceBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "48" }, width: { default: "320" }, height: { default: "180" }, dir: { default: "" } });
  const frames = intFlag("frames", f.frames, 1, 10_000);
  const width = intFlag("width", f.width, 16, 3840);
  const height = intFlag("height", f.height, 16, 2160);
  return withTempDir("nightshift-bench-provenance-", parentDirFlag(f.dir), async (dir) => {
    // Render, as the agent does.
    const model = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade");
    const executor = new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 });
    await executor.load();
    const pngs: Uint8Array[] = [];
    const r0 = nowSeconds();
    for await (const frame of executor.run({
      jobId: "bench", chunkId: "bench", attemptId: "bench", frames: Array.from({ length: frames }, (_, i) => i), seed: 7,
      readFrame: (i) => Promise.resolve(generateFrame(i, width, height, 7)),
      signal: new AbortController().signal,
    })) pngs.push(frame.data);
    const renderSeconds = nowSeconds() - r0;
    await executor.close();

    // Provenance, as the coordinator does: a real store, CA, key, staged files.
    const store = Store.open(join(dir, "store.sqlite"));
    try {
      const outputDir = join(dir, "out");
      mkdirSync(outputDir, { recursive: true });
      const job = insertJob(store, { frameEnd: frames - 1, outputDir, modelSha256: model.manifest.sha256 });
      const [chunk] = insertChunks(store, job.id, [[0, frames - 1]]);
      const agent = insertAgent(store);
      const ca = await StudioCa.open(join(dir, "ca"));
      const signer = await openProvenanceSigner(dir, ca);
      const specs = new JobSpecs();
      const stamper = new FrameStamper(store, specs, signer, Date.now, silentLogger());
      const staging = join(dir, "staging");
      mkdirSync(staging);
      pngs.forEach((png, i) => writeFileSync(join(staging, stagedFrameName(i)), png));
      const acc = { wallSeconds: renderSeconds, busySeconds: renderSeconds, energyJoules: 100, energySource: "estimate" as const, idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram" as const, meanWatts: 1, samples: 1 };
      const s0 = nowSeconds();
      stamper.stampAttempt({ jobId: job.id, chunkId: chunk!.id, attemptId: "att_bench", agentId: agent.id }, staging, pngs.keys(), acc);
      const stampSeconds = nowSeconds() - s0;
      // manifest.json at job end reads the committed frames: put them where the ledger says they are.
      pngs.forEach((_, i) => {
        const path = join(staging, stagedFrameName(i));
        store.frames.upsert({ jobId: job.id, frame: i, chunkId: chunk!.id, attemptId: "att_bench", agentId: agent.id, modelSha256: model.manifest.sha256, seed: 7, sha256: "", bytes: 0, path, committedAt: 0 });
      });
      const m0 = nowSeconds();
      const written = new JobManifestWriter(store, specs, signer, Date.now, silentLogger()).write(store.jobs.get(job.id)!, "done");
      const jobManifestSeconds = nowSeconds() - m0;
      if (written === undefined) throw new Error("job manifest was not written");
      const renderPerFrame = renderSeconds / frames;
      const provenancePerFrame = (stampSeconds + jobManifestSeconds) / frames;
      return {
        benchmark: "provenance-cost",
        frames,
        width,
        height,
        model: "colour-grade",
        renderMsPerFrame: round(renderPerFrame * 1000, 3),
        stampMsPerFrame: round((stampSeconds / frames) * 1000, 3),
        jobManifestMsPerFrame: round((jobManifestSeconds / frames) * 1000, 3),
        provenanceMsPerFrame: round(provenancePerFrame * 1000, 3),
        ratio: round(provenancePerFrame / renderPerFrame, 4),
        aim: "ratio < 0.02",
        pngBytes: pngs[0]?.length ?? 0,
        recordBytes: (written.length / frames) | 0,
        tempFileSystem: fileSystemType(dir),
        definitions: {
          render: "OnnxExecutor.run per frame: generated input, colour-grade model, PNG encode (intraOpThreads 1)",
          stamp: "FrameStamper per frame: read staged PNG, decode for the pixel hash, sign (ECDSA P-256), insert iTXt, write + fsync + rename",
          jobManifest: "manifest.json once per job (hash every file, sign, write + fsync + rename), divided by frames",
        },
      };
    } finally {
      store.close();
    }
  });
}

runBench(() => provenanceBench(process.argv.slice(2)));
