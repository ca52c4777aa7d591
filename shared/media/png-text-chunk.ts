import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

/**
 * Reads and writes one international text chunk (iTXt, uncompressed, UTF-8)
 * in PNG bytes without decoding or re-encoding the image: the chunk is
 * inserted right before IEND, and removing it gives back the original bytes.
 * Hand-written because it is 80 lines over node's zlib.crc32; the npm chunk
 * packages (png-chunks-extract/-encode, png-chunk-text) are unmaintained since
 * 2016, know only tEXt and would copy every chunk to rebuild the file.
 *
 * iTXt layout (PNG spec 11.3.4.5): keyword, NUL, compression flag (0),
 * compression method (0), language tag, NUL, translated keyword, NUL, text.
 */

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export class PngFormatError extends Error {
  override readonly name = "PngFormatError";
}

interface ChunkSpan {
  type: string;
  /** Offset of the length field. */
  start: number;
  /** Offset just past the CRC. */
  end: number;
  dataStart: number;
  dataEnd: number;
}

function chunks(png: Uint8Array): ChunkSpan[] {
  if (png.length < 8 || !SIGNATURE.every((b, i) => png[i] === b)) throw new PngFormatError("not a PNG file (bad signature)");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const spans: ChunkSpan[] = [];
  let at = 8;
  while (at + 12 <= png.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(png[at + 4]!, png[at + 5]!, png[at + 6]!, png[at + 7]!);
    const end = at + 12 + length;
    if (end > png.length) throw new PngFormatError(`PNG chunk ${type} at byte ${at} runs past the end of the file`);
    spans.push({ type, start: at, end, dataStart: at + 8, dataEnd: at + 8 + length });
    at = end;
    if (type === "IEND") return spans;
  }
  throw new PngFormatError("PNG has no IEND chunk (truncated?)");
}

function keywordOf(png: Uint8Array, c: ChunkSpan): string | undefined {
  if (c.type !== "iTXt") return undefined;
  const nul = png.indexOf(0, c.dataStart);
  return nul < 0 || nul >= c.dataEnd ? undefined : Buffer.from(png.subarray(c.dataStart, nul)).toString("latin1");
}

/** The byte length of itxtChunk(keyword, text). */
export function itxtChunkLength(keyword: string, text: string): number {
  return 12 + keyword.length + 5 + Buffer.byteLength(text, "utf8");
}

/** A complete iTXt chunk (length, type, data, CRC) holding `text` under `keyword`. */
export function itxtChunk(keyword: string, text: string): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new RangeError(`iTXt keyword must be 1-79 printable Latin-1 characters: '${keyword}'`);
  // Written in place into one buffer (no intermediate copies): the sink makes one per frame at the commit.
  const length = itxtChunkLength(keyword, text) - 12;
  const out = Buffer.allocUnsafe(12 + length);
  out.writeUInt32BE(length, 0);
  out.write("iTXt", 4, "latin1");
  out.write(keyword, 8, "latin1");
  out.fill(0, 8 + keyword.length, 13 + keyword.length); // keyword NUL, flag, method, empty language NUL, empty translated keyword NUL
  out.write(text, 13 + keyword.length, "utf8");
  out.writeUInt32BE(crc32(out.subarray(4, 8 + length)), 8 + length);
  return out;
}

/** The PNG with every iTXt chunk under `keyword` removed (the bytes as they were before insertion). */
export function removeTextChunk(png: Uint8Array, keyword: string): Buffer {
  const parts: Uint8Array[] = [png.subarray(0, 8)];
  for (const c of chunks(png)) if (keywordOf(png, c) !== keyword) parts.push(png.subarray(c.start, c.end));
  return Buffer.concat(parts);
}

/**
 * The PNG without any iTXt chunk under `keyword`, cut right before IEND: `head`
 * then `tail` (the IEND chunk) is that PNG, and `head`, the new chunk, `tail`
 * is the PNG with the chunk. The sink writes `head` when a frame arrives and
 * appends the rest at the commit, when the record is complete.
 */
export function splitAtEnd(png: Uint8Array, keyword: string): { head: Buffer; tail: Buffer } {
  const stripped = removeTextChunk(png, keyword);
  const iend = stripped.length - 12;
  return { head: stripped.subarray(0, iend), tail: stripped.subarray(iend) };
}

/**
 * splitAtEnd, and the sha256 of `head` then `tail` (the PNG without any chunk under `keyword`): the given
 * `sha256` of the whole PNG when there was none to remove, so the usual frame costs no second hash.
 */
export function splitAtEndHashed(png: Uint8Array, keyword: string, sha256: string): { head: Buffer; tail: Buffer; sha256: string } {
  const { head, tail } = splitAtEnd(png, keyword);
  if (head.length + tail.length === png.length) return { head, tail, sha256: sha256.toLowerCase() };
  return { head, tail, sha256: createHash("sha256").update(head).update(tail).digest("hex") };
}

/** The PNG with `text` under `keyword` (replacing any earlier one), inserted right before IEND. */
export function withTextChunk(png: Uint8Array, keyword: string, text: string): Buffer {
  const { head, tail } = splitAtEnd(png, keyword);
  return Buffer.concat([head, itxtChunk(keyword, text), tail]);
}

/** The text of the first iTXt chunk under `keyword` whose CRC is right, or undefined. */
export function readTextChunk(png: Uint8Array, keyword: string): string | undefined {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (const c of chunks(png)) {
    if (keywordOf(png, c) !== keyword) continue;
    if (crc32(png.subarray(c.start + 4, c.dataEnd)) !== view.getUint32(c.dataEnd)) continue;
    const body = c.dataStart + keyword.length + 1;
    if (png[body] !== 0) continue; // compressed iTXt: never written by nightshift
    const lang = png.indexOf(0, body + 2);
    const translated = lang < 0 ? -1 : png.indexOf(0, lang + 1);
    if (translated < 0 || translated >= c.dataEnd) continue;
    return Buffer.from(png.subarray(translated + 1, c.dataEnd)).toString("utf8");
  }
  return undefined;
}
