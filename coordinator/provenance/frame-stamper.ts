import { createRequire } from "node:module";
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { withTextChunk } from "../../shared/media/png-text-chunk.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { FRAME_MANIFEST_FORMAT, PROVENANCE_KEYWORD, type FrameManifest, type ProvenanceStep } from "../../shared/provenance/provenance-manifest.ts";
import { isPng, pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import { signManifest, type ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import { provenanceSteps } from "./provenance-steps.ts";
import { writeFileDurableSync } from "../sink/durable-fs.ts";
import { stagedFrameName } from "../sink/staging.ts";
import type { Store } from "../store/store.ts";

/**
 * Puts the signed provenance record into every staged PNG frame of an attempt
 * just before the sink commits it (the only moment the chunk's accounting is
 * known). The record is built from the coordinator's own store and from the
 * bytes it received, never from what an agent claims about itself: the pixel
 * hash comes from decoding the received PNG here. The chunk is inserted
 * without re-encoding; the staged file is replaced durably (temp, fsync,
 * rename). Bytes that are not a PNG (test executors) are left as they are.
 */
export class FrameStamper {
  private readonly software: Record<string, string>;

  constructor(
    private readonly store: Store,
    private readonly specs: JobSpecs,
    private readonly signer: ProvenanceSigner,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.software = { onnxruntime: onnxruntimeVersion() };
  }

  stampAttempt(h: { jobId: string; chunkId: string; attemptId: string; agentId: string }, dir: string, frames: Iterable<number>, acc: ChunkAccounting): void {
    const job = this.store.jobs.get(h.jobId);
    const chunk = this.store.chunks.get(h.chunkId);
    if (!job || !chunk) return; // the commit refuses it right after
    const agent = this.store.agents.get(h.agentId);
    const steps: ProvenanceStep[] = provenanceSteps(this.specs.steps(job));
    const indices = [...frames];
    const count = Math.max(1, indices.length);
    const signedAt = new Date(this.clock()).toISOString();
    const software: Record<string, string> = { nightshift: agent?.version ?? "unknown" };
    if (steps.some((s) => s.kind === "model")) Object.assign(software, this.software);
    for (const index of indices) {
      const path = join(dir, stagedFrameName(index));
      const bytes = readFileSync(path);
      if (!isPng(bytes)) continue;
      const manifest: FrameManifest = {
        format: FRAME_MANIFEST_FORMAT,
        job: { id: job.id, name: job.name },
        chunk: { id: chunk.id, frameStart: chunk.frameStart, frameEnd: chunk.frameEnd },
        attempt: h.attemptId,
        frame: index,
        steps,
        seed: job.seed,
        agent: { id: h.agentId, name: agent?.name ?? "unknown", gpu: agent?.gpus.map((g) => g.name).join(", ") || "none (CPU)" },
        software,
        renderSeconds: acc.busySeconds / count,
        energy: { joules: acc.energyJoules / count, source: acc.energySource, share: `chunk total / ${count} frames` },
        pixels: pixelsOf(bytes),
        png: { sha256: sha256Bytes(bytes) },
        signedAt,
      };
      const stamped = withTextChunk(bytes, PROVENANCE_KEYWORD, JSON.stringify(signManifest(manifest, this.signer)));
      const temp = `${path}.stamp`;
      writeFileDurableSync(temp, stamped);
      renameSync(temp, path);
    }
    this.log.debug({ attemptId: h.attemptId, frames: indices.length }, "provenance stamped");
  }
}

function onnxruntimeVersion(): string {
  try {
    return (createRequire(import.meta.url)("onnxruntime-node/package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}
