import type { z } from "zod";
import { isChunkRecord, verifyChunkRecord } from "../../shared/provenance/chunk-records.ts";
import { FRAME_MANIFEST_FORMAT, FRAME_MANIFEST_FORMAT_V1 } from "../../shared/provenance/provenance-manifest.ts";
import { verifyEnvelope } from "../../shared/provenance/provenance-signature.ts";

/**
 * The first half of `nightshift verify` for one frame file, whatever its
 * format: read the record text (a PNG's iTXt chunk, an EXR's header text),
 * check its signature against the studio CA (a nightshift-frame/2 record
 * signed per chunk, or a /1 envelope signed on its own) and parse the
 * manifest. The format's own file then checks the pixels.
 */

export type RecordCheck<M> = { kind: "ok"; manifest: M } | { kind: "unsigned" | "altered"; reason: string };

type FrameFormat = typeof FRAME_MANIFEST_FORMAT | typeof FRAME_MANIFEST_FORMAT_V1;

export function checkSignedRecord<M extends { format: string }>(readText: () => string | undefined, format: string, caPem: string, schema: z.ZodType<M>): RecordCheck<M> {
  let text: string | undefined;
  try {
    text = readText();
  } catch (err) {
    return { kind: "unsigned", reason: `not a readable ${format} (${(err as Error).message})` };
  }
  if (text === undefined) return { kind: "unsigned", reason: "no nightshift provenance record" };
  const check = verifyRecord(text, caPem);
  if (!check.ok) return { kind: "altered", reason: check.reason };
  const parsed = schema.safeParse(check.manifest);
  if (!parsed.success) return { kind: "altered", reason: `signed record is not a nightshift ${format === "PNG" ? "" : `${format} `}frame manifest` };
  if (parsed.data.format !== check.format) return { kind: "altered", reason: `a ${parsed.data.format} manifest in a ${check.format} record` };
  return { kind: "ok", manifest: parsed.data };
}

/**
 * A record's signature: a nightshift-frame/2 record (one signature per chunk,
 * with the frame's inclusion path) or a /1 envelope (signed on its own, as
 * frames committed before /2 are).
 */
function verifyRecord(text: string, caPem: string): { ok: true; manifest: unknown; format: FrameFormat } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: "provenance is not JSON" };
  }
  if (isChunkRecord(raw)) {
    const check = verifyChunkRecord(raw, caPem);
    return check.ok ? { ...check, format: FRAME_MANIFEST_FORMAT } : check;
  }
  const check = verifyEnvelope(text, caPem);
  return check.ok ? { ok: true, manifest: check.envelope.manifest, format: FRAME_MANIFEST_FORMAT_V1 } : check;
}
