import { readTextChunk } from "../../shared/media/png-text-chunk.ts";
import { isExr, readExrText } from "../../shared/media/exr-header-attribute.ts";
import { isPng } from "../../shared/provenance/pixel-hash.ts";
import { PROVENANCE_KEYWORD } from "../../shared/provenance/provenance-manifest.ts";

/**
 * The pixel hash a frame's own provenance record names (manifest.pixels.sha256
 * in the PNG's iTXt chunk or the EXR's header attribute), as the job's
 * manifest.json lists it; null for a frame without a readable one (neither a
 * PNG nor an EXR, unstamped, a broken record). Reads only the chunk headers
 * (PNG) or the header (EXR) and the record, not the pixels: the sink runs it
 * on frames it stores as the agent sent them.
 */
export function embeddedPixelsSha256(bytes: Uint8Array): string | null {
  let text: string | undefined;
  try {
    text = isPng(bytes) ? readTextChunk(bytes, PROVENANCE_KEYWORD) : isExr(bytes) ? readExrText(bytes, PROVENANCE_KEYWORD) : undefined;
  } catch {
    return null;
  }
  if (text === undefined) return null;
  try {
    const sha = (JSON.parse(text) as { manifest?: { pixels?: { sha256?: unknown } } }).manifest?.pixels?.sha256;
    return typeof sha === "string" ? sha : null;
  } catch {
    return null;
  }
}
