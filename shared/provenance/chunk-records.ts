import { canonicalJson } from "./canonical-json.ts";
import { inclusionPath, leafHash, rootFromPath, rootOf, treeLevels } from "./merkle-tree.ts";
import { CHUNK_STATEMENT_FORMAT, chunkRecordSchema, SIGNATURE_ALG, type ChunkStatement, type FrameManifest } from "./provenance-manifest.ts";
import { certificateBase64, checkSignature, SIGNATURE_MISMATCH, signText, type ProvenanceSigner } from "./provenance-signature.ts";

/**
 * Why this file exists: the nightshift-frame/2 record, which signs a chunk's
 * frames with one ECDSA signature instead of one each. The frame manifests
 * are the leaves of a hash tree (merkle-tree.ts); the signature covers a
 * statement naming the job, chunk, attempt, leaf count, root and time; each
 * frame's record carries its own manifest, that statement with its signature
 * and certificate, and its inclusion path. A record still verifies alone with
 * the studio CA certificate, whatever container it sits in (PNG iTXt today).
 */

/**
 * Signs the frame manifests of one attempt with one signature and returns each
 * frame's record text (JSON), in the order given. All must name the same job,
 * chunk, attempt and signing time (they become the statement). The record
 * embeds each manifest's canonical JSON, so nothing is serialised twice; the
 * objects the manifests share (job, steps, agent...) are serialised once.
 */
export function signChunkRecords(manifests: readonly ChunkMember[], signer: ProvenanceSigner): string[] {
  const first = manifests[0];
  if (first === undefined) return [];
  const statement: Omit<ChunkStatement, "root"> = {
    format: CHUNK_STATEMENT_FORMAT, job: first.job.id, chunk: first.chunk.id, attempt: first.attempt, frames: manifests.length, signedAt: first.signedAt,
  };
  const shared = new WeakMap<object, string>();
  const texts = manifests.map((m) => {
    if (m.job.id !== statement.job || m.chunk.id !== statement.chunk || m.attempt !== statement.attempt || m.signedAt !== statement.signedAt) {
      throw new RangeError(`frame ${m.frame}: a chunk's records must share job, chunk, attempt and signedAt`);
    }
    return canonicalJson(m, shared);
  });
  const levels = treeLevels(texts.map((t) => leafHash(t)));
  const statementText = canonicalJson({ ...statement, root: rootOf(levels).toString("hex") });
  const signature = { alg: SIGNATURE_ALG, value: signText(statementText, signer), certificate: certificateBase64(signer.certPem) };
  const tail = `,"signature":${JSON.stringify(signature)},"statement":${statementText}}`;
  return texts.map((text, i) => `{"manifest":${text},"proof":${JSON.stringify({ leaf: i, path: inclusionPath(levels, i).map((h) => h.toString("hex")) })}${tail}`);
}

/**
 * At least the UTF-8 byte length of any record signChunkRecords writes for up
 * to `count` manifests, none longer (serialised) than `longest`: what a
 * container can reserve for a record before the record is known.
 */
export function recordLengthBound(longest: FrameManifest, count: number, signer: ProvenanceSigner): number {
  const depth = Math.ceil(Math.log2(Math.max(1, count)));
  const hash = "0".repeat(64);
  const proof = JSON.stringify({ leaf: count, path: Array.from({ length: depth }, () => hash) });
  const statement = canonicalJson({ format: CHUNK_STATEMENT_FORMAT, job: longest.job.id, chunk: longest.chunk.id, attempt: longest.attempt, frames: count, root: hash, signedAt: longest.signedAt });
  // An ES256 value is 64 bytes (r || s): 88 base64 characters.
  const signature = JSON.stringify({ alg: SIGNATURE_ALG, value: "A".repeat(88), certificate: certificateBase64(signer.certPem) });
  return Buffer.byteLength(`{"manifest":${canonicalJson(longest)},"proof":${proof},"signature":${signature},"statement":${statement}}`);
}

/** What signChunkRecords reads of a frame manifest (a PNG's or an EXR's). */
export type ChunkMember = Pick<FrameManifest, "job" | "chunk" | "attempt" | "signedAt" | "frame">;

export type ChunkRecordCheck = { ok: true; manifest: unknown } | { ok: false; reason: string };

/** Whether `raw` (a parsed record) is a nightshift-frame/2 record rather than a /1 envelope. */
export function isChunkRecord(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && "statement" in raw;
}

/**
 * Checks a parsed nightshift-frame/2 record: the statement's signature and
 * certificate (as for /1), that the manifest's leaf leads to the signed root
 * along the record's path, and that manifest and statement name the same
 * job, chunk, attempt and time. The manifest's own fields are the caller's.
 */
export function verifyChunkRecord(raw: unknown, caPem: string): ChunkRecordCheck {
  const parsed = chunkRecordSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `provenance record: ${parsed.error.issues[0]?.path.join(".") ?? ""} ${parsed.error.issues[0]?.message ?? "invalid"}` };
  const { manifest, proof, statement, signature } = parsed.data;
  const signedAt = new Date(statement.signedAt);
  if (Number.isNaN(signedAt.getTime())) return { ok: false, reason: "chunk statement's signedAt is not a time" };
  const signed = checkSignature(canonicalJson(statement), signature, caPem, signedAt);
  if (!signed.ok) return { ok: false, reason: signed.reason === SIGNATURE_MISMATCH ? "signature does not match the chunk statement (statement altered)" : signed.reason };
  let leaf: Buffer;
  try {
    leaf = leafHash(canonicalJson(manifest));
  } catch {
    return { ok: false, reason: "manifest is not canonical JSON" };
  }
  const root = rootFromPath(leaf, proof.leaf, statement.frames, proof.path.map((h) => Buffer.from(h, "hex")));
  if (root?.toString("hex") !== statement.root) return { ok: false, reason: "manifest is not among the chunk's signed records (its inclusion path does not lead to the signed root: manifest altered, or a proof from another chunk)" };
  const m = manifest as Partial<FrameManifest> | null;
  if (m?.job?.id !== statement.job || m.chunk?.id !== statement.chunk || m.attempt !== statement.attempt || m.signedAt !== statement.signedAt) {
    return { ok: false, reason: "manifest and its chunk statement name different jobs, chunks, attempts or times" };
  }
  return { ok: true, manifest };
}
