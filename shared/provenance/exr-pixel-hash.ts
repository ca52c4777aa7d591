import { createHash } from "node:crypto";
import { exrLayout } from "../media/exr-header-attribute.ts";
import type { PixelHash } from "./pixel-hash.ts";

/**
 * The pixel hash an EXR frame's provenance names: sha256 of its stored pixel
 * chunks, every byte from the end of the offset table to the end of the file,
 * with the data window's size. Not of decoded samples as for PNG: node has no
 * EXR decoder (the npm ones are unmaintained or decode only some of the ten
 * compressions) and ffmpeg 5.1 cannot decode DWAA/DWAB, which Blender writes;
 * a process per frame would also cost more than the frame's whole record.
 * The chunks are the pixels as compressed, so the hash names exactly which
 * image was delivered and changes with any pixel byte; it survives any edit of
 * the header (our own record, a renamed attribute), which the file's hash
 * (`exr.sha256`) does not, but not a re-compression.
 */
export function exrPixelsOf(exr: Uint8Array): PixelHash {
  const layout = exrLayout(exr);
  return { sha256: createHash("sha256").update(exr.subarray(layout.chunksStart)).digest("hex"), width: layout.width, height: layout.height };
}
