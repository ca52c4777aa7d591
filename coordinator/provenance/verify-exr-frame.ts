import { readExrText, removeExrText } from "../../shared/media/exr-header-attribute.ts";
import { exrPixelsOf } from "../../shared/provenance/exr-pixel-hash.ts";
import { exrFrameManifestSchema, PROVENANCE_KEYWORD, type ExrFrameManifest } from "../../shared/provenance/provenance-manifest.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import { checkSignedRecord, type RecordCheck } from "./signed-record.ts";

/**
 * `nightshift verify` for one EXR frame: its `nightshift` header text
 * (shared/media/exr-header-attribute.ts) against the studio CA, then the
 * stored pixel chunks against the record's pixel hash, then the whole file
 * without the record against `exr.sha256`. The last is needed because the
 * chunks alone do not fix how they are read: a header edit (channels,
 * compression, data window) changes the image without touching them.
 */

export type ExrFrameCheck = RecordCheck<ExrFrameManifest>;


export function checkExrFrame(bytes: Uint8Array, caPem: string): ExrFrameCheck {
  const record = checkSignedRecord(() => readExrText(bytes, PROVENANCE_KEYWORD), "EXR", caPem, exrFrameManifestSchema);
  if (record.kind !== "ok") return record;
  const m = record.manifest;
  if (exrPixelsOf(bytes).sha256 !== m.pixels.sha256) return { kind: "altered", reason: "pixel chunks differ from the signed record" };
  if (sha256Bytes(exrWithoutRecord(bytes)) !== m.exr.sha256) return { kind: "altered", reason: "EXR header differs from the signed record" };
  return { kind: "ok", manifest: m };
}

/** The EXR without its provenance record: the bytes the agent sent, which the ledger's sha256 names. */
export function exrWithoutRecord(bytes: Uint8Array): Buffer {
  return removeExrText(bytes, PROVENANCE_KEYWORD);
}
