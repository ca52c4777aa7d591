import type { z } from "zod";
import { verifyEnvelope } from "../../shared/provenance/provenance-signature.ts";

/**
 * The first half of `nightshift verify` for one frame file, whatever its
 * format: read the record text (a PNG's iTXt chunk, an EXR's header text),
 * check its signature against the studio CA and parse the manifest. The
 * format's own file then checks the pixels.
 */

export type RecordCheck<M> = { kind: "ok"; manifest: M } | { kind: "unsigned" | "altered"; reason: string };

export function checkSignedRecord<M>(readText: () => string | undefined, format: string, caPem: string, schema: z.ZodType<M>): RecordCheck<M> {
  let text: string | undefined;
  try {
    text = readText();
  } catch (err) {
    return { kind: "unsigned", reason: `not a readable ${format} (${(err as Error).message})` };
  }
  if (text === undefined) return { kind: "unsigned", reason: "no nightshift provenance record" };
  const check = verifyEnvelope(text, caPem);
  if (!check.ok) return { kind: "altered", reason: check.reason };
  const parsed = schema.safeParse(check.envelope.manifest);
  if (!parsed.success) return { kind: "altered", reason: `signed record is not a nightshift ${format === "PNG" ? "" : `${format} `}frame manifest` };
  return { kind: "ok", manifest: parsed.data };
}
