import { ENERGY_SOURCES, type ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { itxtChunk, itxtChunkLength } from "../../shared/media/png-text-chunk.ts";
import { FRAME_MANIFEST_FORMAT, PIXEL_HASH_BY, PROVENANCE_KEYWORD, type ExrFrameManifest, type FrameManifest, type FramePixels, type ProvenanceStep } from "../../shared/provenance/provenance-manifest.ts";
import { pngDimensions } from "../../shared/provenance/pixel-hash.ts";
import { recordLengthBound, signChunkRecords, type ChunkMember } from "../../shared/provenance/chunk-records.ts";
import type { ProvenanceSigner } from "../../shared/provenance/provenance-signature.ts";
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

/** The attempt whose frames are stamped. */
export interface AttemptRef {
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
 * Builds and signs the provenance record of every PNG frame of an attempt,
 * in two halves that follow what is known when:
 *  - when a frame arrives, its pixel hash: the one the agent sent with it
 *    (recorded as the agent's; pixel-claims.ts picks which claims are
 *    checked), else decoded from the received PNG on the PixelHasher's
 *    thread (recorded as the coordinator's);
 *  - at the commit, once the chunk's accounting (render seconds, energy) has
 *    arrived, the record itself: job, chunk, attempt, steps, seed, agent,
 *    software, accounting share, hashes; signed once for the whole attempt
 *    (nightshift-frame/2: a hash tree over the records, its root signed) and
 *    returned per frame as the iTXt chunk that the sink writes into the room
 *    it kept in the staged file (recordSpace), or, through records(), as the
 *    record text for another container.
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

  /**
   * The iTXt chunk per frame index (PNG); empty when the job or chunk is gone
   * (the commit refuses it right after). With `space`, a chunk that fits is
   * padded to exactly that many bytes (spaces after the JSON), so it fills
   * the room recordSpace reserved in the staged file.
   */
  recordChunks(h: AttemptRef, frames: readonly StagedPng[], frameCount: number, acc: ChunkAccounting, space?: number): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    for (const [index, text] of this.records(h, frames, frameCount, acc)) {
      const room = space === undefined ? 0 : space - itxtChunkLength(PROVENANCE_KEYWORD, text);
      out.set(index, itxtChunk(PROVENANCE_KEYWORD, room > 0 ? text + " ".repeat(room) : text));
    }
    return out;
  }

  /**
   * Bytes a staged PNG can reserve for its record chunk when it arrives, before
   * the record is known (it needs the chunk's accounting, which comes last):
   * the chunk around the longest record this attempt can get, with the
   * longest numbers, frame number, image size and energy source in place of
   * the ones still unknown. 0 when the job or chunk is gone.
   */
  recordSpace(h: AttemptRef, frameCount: number): number {
    const unknownHash = "0".repeat(64);
    const pixels = { sha256: unknownHash, width: 2 ** 31 - 1, height: 2 ** 31 - 1, by: longest(PIXEL_HASH_BY) };
    const acc: ChunkAccounting = { wallSeconds: 0, busySeconds: 0, energyJoules: 0, energySource: longest(ENERGY_SOURCES), idleEnergyJoules: 0, peakMemoryBytes: 0, memoryKind: "ram", meanWatts: 0, samples: 0 };
    const [m] = this.manifests(h, [{ index: 0, pngSha256: unknownHash, pixels }], frameCount, acc);
    if (m === undefined) return 0;
    const frame = String(m.chunk.frameStart).length > String(m.chunk.frameEnd).length ? m.chunk.frameStart : m.chunk.frameEnd;
    const worst: FrameManifest = { ...m, frame, renderSeconds: LONGEST_NUMBER, energy: { ...m.energy, joules: LONGEST_NUMBER } };
    return itxtChunkLength(PROVENANCE_KEYWORD, " ".repeat(recordLengthBound(worst, Math.max(1, frameCount), this.signer)));
  }

  /**
   * The signed record text (nightshift-frame/2, JSON) per frame index, for any
   * container: one signature for all of `frames` (shared/provenance/chunk-records.ts).
   * Empty when the job or chunk is gone.
   */
  records(h: AttemptRef, frames: readonly StagedPng[], frameCount: number, acc: ChunkAccounting): Map<number, string> {
    return this.signed(h, this.manifests(h, frames, frameCount, acc), "provenance records signed");
  }

  /**
   * The signed record text per EXR frame index (exr-staging.ts puts it in the
   * frame's header): the same nightshift-frame/2 record with `exr` for `png`,
   * one signature for all of `frames`. Empty as records().
   */
  exrRecords(h: AttemptRef, frames: readonly StagedExr[], frameCount: number, acc: ChunkAccounting): Map<number, string> {
    const common = this.common(h, frameCount, acc);
    if (!common) return new Map();
    const manifests: ExrFrameManifest[] = frames.map((f) => ({ ...common, frame: f.index, pixels: f.pixels, exr: { sha256: f.exrSha256 } }));
    return this.signed(h, manifests, "EXR provenance records signed");
  }

  /** The chunk's manifests signed once (signChunkRecords), as record text per frame index. */
  private signed(h: AttemptRef, manifests: readonly ChunkMember[], what: string): Map<number, string> {
    const texts = signChunkRecords(manifests, this.signer);
    this.log.debug({ attemptId: h.attemptId, frames: texts.length }, what);
    return new Map(manifests.map((m, i) => [m.frame, texts[i]!]));
  }

  /** Each frame's manifest, from the store's facts and the chunk's accounting; the objects they share are shared by reference. */
  manifests(h: AttemptRef, frames: readonly StagedPng[], frameCount: number, acc: ChunkAccounting): FrameManifest[] {
    const common = this.common(h, frameCount, acc);
    if (!common) return [];
    return frames.map((f) => ({ ...common, frame: f.index, pixels: f.pixels, png: { sha256: f.pngSha256 } }));
  }

  /** What every frame record of the attempt says but the frame, its pixels and its file hash; undefined when the job or chunk is gone. */
  private common(h: AttemptRef, frameCount: number, acc: ChunkAccounting): Omit<FrameManifest, "frame" | "pixels" | "png"> | undefined {
    // One read transaction for the three reads (one lock and one snapshot, not one each; nothing is written).
    const { job, chunk, agentRow } = this.store.tx(() => ({ job: this.store.jobs.get(h.jobId), chunk: this.store.chunks.get(h.chunkId), agentRow: this.store.agents.get(h.agentId) }));
    if (!job || !chunk) return undefined;
    const steps: ProvenanceStep[] = provenanceSteps(this.specs.steps(job));
    const count = Math.max(1, frameCount);
    return {
      format: FRAME_MANIFEST_FORMAT,
      job: { id: job.id, name: job.name },
      chunk: { id: chunk.id, frameStart: chunk.frameStart, frameEnd: chunk.frameEnd },
      attempt: h.attemptId,
      steps,
      seed: job.seed,
      agent: { id: h.agentId, name: agentRow?.name ?? "unknown", gpu: agentRow?.gpus.map((g) => g.name).join(", ") || "none (CPU)" },
      software: agentSoftware(agentRow, steps),
      renderSeconds: acc.busySeconds / count,
      energy: { joules: acc.energyJoules / count, source: acc.energySource, share: `chunk total / ${count} frames` },
      signedAt: new Date(this.clock()).toISOString(),
    };
  }

  close(): Promise<void> {
    return this.hasher.close();
  }
}

/** The longest text a JavaScript number prints as (17 significant digits, 25 characters). */
const LONGEST_NUMBER = -0.0000012345678901234567;

const longest = <T extends string>(xs: readonly T[]): T => xs.reduce((a, b) => (b.length > a.length ? b : a));

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
