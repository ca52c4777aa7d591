import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { itxtChunk } from "../../shared/media/png-text-chunk.ts";
import { FRAME_MANIFEST_FORMAT, PROVENANCE_KEYWORD, type ExrFrameManifest, type FrameManifest, type FramePixels, type ProvenanceStep } from "../../shared/provenance/provenance-manifest.ts";
import { pngDimensions } from "../../shared/provenance/pixel-hash.ts";
import { signManifest, type ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { Store } from "../store/store.ts";
import { DEFAULT_PIXEL_CLAIM_CHECK_RATE, PixelClaimSampler } from "./pixel-claims.ts";
import { PixelHasher } from "./pixel-hasher.ts";
import { provenanceSteps } from "./provenance-steps.ts";

/** What the sink knows of one staged PNG frame when the attempt commits. */
export interface StagedPng {
  index: number;
  /** sha256 of the PNG bytes the agent sent (checked by the sink). */
  pngSha256: string;
  pixels: FramePixels;
}

/** What the sink knows of one staged EXR frame when the attempt commits. */
export interface StagedExr {
  index: number;
  /** sha256 of the EXR bytes the agent sent (checked by the sink). */
  exrSha256: string;
  pixels: FramePixels;
}

/** The upload an attempt's records are for. */
export interface AttemptHeader {
  jobId: string;
  chunkId: string;
  attemptId: string;
  agentId: string;
}

/** The pixel hash an agent sent with a frame (FrameData.pixels_sha256), and which agent. */
export interface PixelClaim {
  sha256: string;
  agentId: string;
}

/** A claimed pixel hash that is malformed or does not match the frame: the upload is refused (bad-frame). */
export class PixelClaimError extends Error {
  override readonly name = "PixelClaimError";
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Builds and signs the provenance record of every PNG and EXR frame of an attempt,
 * in two halves that follow what is known when:
 *  - when a frame arrives, its pixel hash: the one the agent sent with it
 *    (recorded as the agent's; pixel-claims.ts picks which claims are
 *    checked), else decoded from the received PNG on the PixelHasher's
 *    thread (recorded as the coordinator's);
 *  - at the commit, once the chunk's accounting (render seconds, energy) has
 *    arrived, the record itself: job, chunk, attempt, steps, seed, agent,
 *    software, accounting share, hashes; signed and returned as the iTXt
 *    chunk that the sink appends to the staged file before its one fsync;
 *    for an EXR frame (exrRecords) the same record with `exr` for `png`, as
 *    text that exr-staging.ts puts in the frame's header. An EXR's pixel hash
 *    is taken by the sink on arrival (shared/provenance/exr-pixel-hash.ts).
 * The record's facts come from the coordinator's store; the software versions
 * are the ones the agent reported for the step kinds the job used.
 */
export class FrameStamper {
  constructor(
    private readonly store: Store,
    private readonly specs: JobSpecs,
    private readonly signer: ProvenanceSigner,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hasher = new PixelHasher(log),
    private readonly claims = new PixelClaimSampler(DEFAULT_PIXEL_CLAIM_CHECK_RATE),
  ) {}

  /**
   * The frame's pixel hash for its record. With a claim: taken as the agent's
   * unless this claim is picked for a check (then decoded and compared; a
   * mismatch rejects with PixelClaimError). Without one: decoded here.
   */
  hashPixels(png: Uint8Array, claim?: PixelClaim): Promise<FramePixels> {
    if (claim === undefined || claim.sha256 === "") return this.decoded(png);
    if (!SHA256_HEX.test(claim.sha256)) return Promise.reject(new PixelClaimError("pixels_sha256 sent by the agent is not a lower-case hex sha256"));
    const size = pngDimensions(png);
    if (size !== undefined && !this.claims.shouldCheck(claim.agentId)) return Promise.resolve({ sha256: claim.sha256, ...size, by: "agent" });
    return this.decoded(png).then((pixels) => {
      if (pixels.sha256 === claim.sha256) return pixels;
      this.claims.failed(claim.agentId);
      this.log.warn({ agentId: claim.agentId, claimed: claim.sha256, decoded: pixels.sha256 }, "agent's pixel hash does not match its frame");
      throw new PixelClaimError("pixels_sha256 sent by the agent does not match the frame's pixels");
    });
  }

  private async decoded(png: Uint8Array): Promise<FramePixels> {
    return { ...(await this.hasher.hash(png)), by: "coordinator" };
  }

  /** The iTXt chunk per frame index; empty when the job or chunk is gone (the commit refuses it right after). */
  recordChunks(h: AttemptHeader, frames: readonly StagedPng[], frameCount: number, acc: ChunkAccounting): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    const record = this.recordBody(h, frameCount, acc);
    if (!record) return out;
    for (const f of frames) {
      const manifest: FrameManifest = { ...record.body(f.index, f.pixels), png: { sha256: f.pngSha256 }, signedAt: record.signedAt };
      out.set(f.index, itxtChunk(PROVENANCE_KEYWORD, JSON.stringify(signManifest(manifest, this.signer))));
    }
    this.log.debug({ attemptId: h.attemptId, frames: out.size }, "provenance records signed");
    return out;
  }

  /** The signed record text per EXR frame index (exr-staging.ts puts it in the header); empty as recordChunks. */
  exrRecords(h: AttemptHeader, frames: readonly StagedExr[], frameCount: number, acc: ChunkAccounting): Map<number, string> {
    const out = new Map<number, string>();
    const record = this.recordBody(h, frameCount, acc);
    if (!record) return out;
    for (const f of frames) {
      const manifest: ExrFrameManifest = { ...record.body(f.index, f.pixels), exr: { sha256: f.exrSha256 }, signedAt: record.signedAt };
      out.set(f.index, JSON.stringify(signManifest(manifest, this.signer)));
    }
    this.log.debug({ attemptId: h.attemptId, frames: out.size }, "EXR provenance records signed");
    return out;
  }

  /** What every frame record of the attempt says, but the file's own hash and the time; undefined when the job or chunk is gone. */
  private recordBody(h: AttemptHeader, frameCount: number, acc: ChunkAccounting) {
    const job = this.store.jobs.get(h.jobId);
    const chunk = this.store.chunks.get(h.chunkId);
    if (!job || !chunk) return undefined;
    const agent = this.store.agents.get(h.agentId);
    const steps: ProvenanceStep[] = provenanceSteps(this.specs.steps(job));
    const count = Math.max(1, frameCount);
    const software = agentSoftware(agent, steps);
    const body = (frame: number, pixels: FramePixels): Omit<FrameManifest, "png" | "signedAt"> => ({
      format: FRAME_MANIFEST_FORMAT,
      job: { id: job.id, name: job.name },
      chunk: { id: chunk.id, frameStart: chunk.frameStart, frameEnd: chunk.frameEnd },
      attempt: h.attemptId,
      frame,
      steps,
      seed: job.seed,
      agent: { id: h.agentId, name: agent?.name ?? "unknown", gpu: agent?.gpus.map((g) => g.name).join(", ") || "none (CPU)" },
      software,
      renderSeconds: acc.busySeconds / count,
      energy: { joules: acc.energyJoules / count, source: acc.energySource, share: `chunk total / ${count} frames` },
      pixels,
    });
    return { body, signedAt: new Date(this.clock()).toISOString() };
  }

  close(): Promise<void> {
    return this.hasher.close();
  }
}

/** The tool behind each step kind, as software names it. */
const TOOL_OF_KIND: Readonly<Record<string, string>> = { model: "onnxruntime", blender: "blender", comfyui: "comfyui" };

/**
 * The agent's nightshift version and, for every step kind the job used, the
 * version of the tool the agent reported for that kind when it joined
 * (agents.kinds): onnxruntime for model steps, Blender, ComfyUI ("unknown"
 * when the agent gave none); other kinds only when the agent gave a version.
 */
export function agentSoftware(agent: Pick<AgentRow, "version" | "kinds"> | undefined, steps: readonly ProvenanceStep[]): Record<string, string> {
  const software: Record<string, string> = { nightshift: agent?.version || "unknown" };
  for (const kind of new Set(steps.map((s) => s.kind))) {
    const version = agent?.kinds.find((k) => k.kind === kind)?.version;
    const tool = TOOL_OF_KIND[kind];
    if (tool) software[tool] = version || "unknown";
    else if (version) software[kind] = version;
  }
  return software;
}
