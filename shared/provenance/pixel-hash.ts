import { decodePng } from "../media/png-codec.ts";
import { sha256Bytes } from "../model-manifest/model-file-hash.ts";

/**
 * The pixel hash a frame's provenance names: sha256 of the decoded 8-bit RGB
 * samples, row-major, no padding. It holds across any lossless re-encoding of
 * the PNG (other filters, compression level, metadata chunks), which a file
 * hash would not, and says exactly which image was delivered.
 */
export function pixelsOf(png: Uint8Array): { sha256: string; width: number; height: number } {
  const frame = decodePng(png);
  return { sha256: sha256Bytes(frame.data), width: frame.width, height: frame.height };
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}
