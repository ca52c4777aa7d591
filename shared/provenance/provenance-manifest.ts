import { z } from "zod";

/**
 * What a frame says about how it was made (the `nightshift` iTXt chunk of
 * every committed PNG), and the signed envelope around it. The coordinator
 * builds and signs it at commit; `nightshift verify` checks it away from the
 * farm with only the studio CA certificate.
 *
 * Steps are a list of {id, kind, hashes}: each kind names the hashes of what
 * it used (model: `model`; a Blender step `scene`, and `tree` for a scene
 * uploaded with its files; a command step `command`, a ComfyUI step
 * `workflow`), so new kinds need no new format.
 */

export const PROVENANCE_KEYWORD = "nightshift";
/** The format the coordinator writes: frame records signed once per chunk (chunkRecordSchema). */
export const FRAME_MANIFEST_FORMAT = "nightshift-frame/2";
/** Records of frames committed before that: each signed on its own (envelopeSchema); verify still reads them. */
export const FRAME_MANIFEST_FORMAT_V1 = "nightshift-frame/1";
/** What the one signature of a chunk's frame records covers: the root of the hash tree over them. */
export const CHUNK_STATEMENT_FORMAT = "nightshift-chunk/1";
export const JOB_MANIFEST_FORMAT = "nightshift-job/1";
export const SIGNATURE_ALG = "ES256";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** Who computed a frame record's pixel hash. */
export const PIXEL_HASH_BY = ["coordinator", "agent"] as const;
export type PixelHashBy = (typeof PIXEL_HASH_BY)[number];

/** One file of a Blender scene tree as the job's manifest.json lists it. */
export const treeFileSchema = z.object({ path: z.string(), sha256, size: z.number().int().nonnegative() });

export const provenanceStepSchema = z.object({
  id: z.string(),
  kind: z.string(),
  hashes: z.record(z.string(), z.string()),
  /**
   * A Blender step whose scene was uploaded with the files it references:
   * hashes.tree is the tree's hash (shared/provenance/scene-tree-hash.ts),
   * `files` its number of files; the job's manifest.json also lists them.
   * Absent on other steps and on records written before trees were named.
   */
  tree: z.object({ files: z.number().int().nonnegative(), list: z.array(treeFileSchema).optional() }).optional(),
});

export const frameManifestSchema = z.object({
  format: z.enum([FRAME_MANIFEST_FORMAT_V1, FRAME_MANIFEST_FORMAT]),
  job: z.object({ id: z.string(), name: z.string() }),
  chunk: z.object({ id: z.string(), frameStart: z.number(), frameEnd: z.number() }),
  attempt: z.string(),
  frame: z.number().int(),
  steps: z.array(provenanceStepSchema),
  seed: z.number(),
  agent: z.object({ id: z.string(), name: z.string(), gpu: z.string() }),
  software: z.record(z.string(), z.string()),
  renderSeconds: z.number(),
  energy: z.object({ joules: z.number(), source: z.string(), share: z.string() }),
  /**
   * sha256 of the decoded 8-bit RGB samples, row-major (shared/media/png-codec
   * decodePng), and who computed it: "coordinator" (it decoded the bytes it
   * received) or "agent" (from the pixels it encoded, sent with the frame;
   * the coordinator checks a random sample of such claims). Absent in records
   * made before agents sent it: the coordinator.
   */
  pixels: z.object({ sha256, width: z.number().int(), height: z.number().int(), by: z.enum(PIXEL_HASH_BY).optional() }),
  /** sha256 of the PNG bytes as the agent sent them, i.e. the file without this chunk; the ledger's frames.sha256. */
  png: z.object({ sha256 }),
  /** ISO time the coordinator committed and signed the frame. */
  signedAt: z.string(),
});

/**
 * An EXR frame's record (its `nightshift` header text, shared/media/exr-header-attribute.ts):
 * the same as a PNG's with `exr` for `png`, and pixels.sha256 over the
 * stored pixel chunks (shared/provenance/exr-pixel-hash.ts), not decoded samples.
 */
export const exrFrameManifestSchema = frameManifestSchema.omit({ png: true }).extend({
  /** sha256 of the EXR bytes as the agent sent them, i.e. the file without this record; the ledger's frames.sha256. */
  exr: z.object({ sha256 }),
});

export const jobManifestSchema = z.object({
  format: z.literal(JOB_MANIFEST_FORMAT),
  job: z.object({ id: z.string(), name: z.string(), state: z.string() }),
  steps: z.array(provenanceStepSchema),
  seed: z.number(),
  frames: z.array(
    z.object({
      frame: z.number().int(),
      /** File name relative to the job folder. */
      file: z.string(),
      /** sha256 of the file as written (with its provenance chunk). */
      sha256,
      /** From the frame's own provenance; null for a frame without one (neither a PNG nor an EXR, or unstamped). */
      pixelsSha256: sha256.nullable(),
    }),
  ),
  signedAt: z.string(),
});

export const signatureSchema = z.object({
  alg: z.literal(SIGNATURE_ALG),
  /** base64 of the IEEE P1363 (r || s) ECDSA P-256 signature over canonicalJson(manifest). */
  value: z.string(),
  /**
   * The signing certificate, issued by the studio CA for provenance only: PEM
   * in nightshift-frame/1 records and manifest.json, base64 DER (the same
   * bytes without the PEM armour) in nightshift-frame/2 records.
   */
  certificate: z.string(),
});

/** The statement a chunk's one signature covers (signature.value is over its canonical JSON). */
export const chunkStatementSchema = z.object({
  format: z.literal(CHUNK_STATEMENT_FORMAT),
  job: z.string(),
  chunk: z.string(),
  attempt: z.string(),
  /** How many frame records were signed together: the hash tree's leaf count. */
  frames: z.number().int().positive(),
  /** Root of the hash tree (shared/provenance/merkle-tree.ts) over sha256(0x00 || canonicalJson(manifest)) of each record. */
  root: sha256,
  signedAt: z.string(),
});

/**
 * A nightshift-frame/2 record: the frame's own manifest, the chunk's signed
 * statement, and the inclusion path that leads from this manifest's leaf
 * (position `leaf` among the chunk's records) to the statement's root.
 */
export const chunkRecordSchema = z.object({
  manifest: z.unknown(),
  proof: z.object({ leaf: z.number().int().nonnegative(), path: z.array(sha256).max(64) }),
  statement: chunkStatementSchema,
  signature: signatureSchema,
});

export const envelopeSchema = z.object({
  manifest: z.unknown(),
  signature: signatureSchema,
});

export type ProvenanceStep = z.infer<typeof provenanceStepSchema>;
export type FrameManifest = z.infer<typeof frameManifestSchema>;
export type FramePixels = FrameManifest["pixels"];
export type ExrFrameManifest = z.infer<typeof exrFrameManifestSchema>;
export type JobManifest = z.infer<typeof jobManifestSchema>;
export type ChunkStatement = z.infer<typeof chunkStatementSchema>;
export type SignedEnvelope<M> = { manifest: M; signature: z.infer<typeof signatureSchema> };

/** A step's hashes: every `<name>Sha256` field of the compiled step spec becomes hashes[<name>]. */
export function stepHashes(step: Record<string, unknown>): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const [key, value] of Object.entries(step)) {
    const m = /^(.+)Sha256$/.exec(key);
    if (m && typeof value === "string") hashes[m[1]!] = value;
  }
  return hashes;
}
