/**
 * Reads and writes one string attribute in an OpenEXR file's header without
 * decoding or re-encoding any pixels, so a frame can carry its provenance the
 * way a PNG carries an iTXt chunk (png-text-chunk.ts). Inserting an attribute
 * moves every pixel chunk by its length, so every entry of the chunk offset
 * table (absolute file positions) is shifted by the same count; removing it
 * shifts them back and gives the original bytes again.
 *
 * Follows "OpenEXR File Layout" (openexr.com): magic 20000630, a version field
 * (version 2 in its low byte, flags above: 0x200 single-part tiled, 0x400 long
 * names, 0x800 deep data, 0x1000 multi-part), a header of attributes (name NUL,
 * type NUL, int32 size, value) ended by a NUL byte, the offset table (one
 * uint64 per chunk), then the chunks. Single-part scan line and tiled images
 * (one level, mipmaps, ripmaps) are handled; multi-part and deep files are
 * refused with ExrUnsupportedError (not written by any executor here).
 * Hand-written: no maintained npm package edits EXR headers in place (the
 * EXR readers on npm decode pixels and cannot write), and the layout is small.
 */

const MAGIC = 20000630;
const FLAG_TILED = 0x200;
const FLAG_LONG_NAMES = 0x400;
const FLAG_DEEP = 0x800;
const FLAG_MULTI_PART = 0x1000;

/** Scan lines per chunk for each compression (the `compression` attribute's value). */
const LINES_PER_BLOCK: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256 };

export class ExrFormatError extends Error {
  override readonly name: string = "ExrFormatError";
}

/** A valid EXR of a kind this module does not edit (multi-part, deep). */
export class ExrUnsupportedError extends ExrFormatError {
  override readonly name = "ExrUnsupportedError";
}

export interface ExrAttribute {
  name: string;
  type: string;
  /** Offset of the attribute's name. */
  start: number;
  /** Offset of its value (after the size field). */
  valueStart: number;
  /** Offset just past its value. */
  end: number;
}

export interface ExrLayout {
  /** The version field: version number in the low byte, flags above. */
  versionField: number;
  tiled: boolean;
  attributes: ExrAttribute[];
  /** Offset of the NUL byte that ends the header; the offset table starts right after it. */
  headerEnd: number;
  /** Offset of the first byte after the offset table: the first pixel chunk. */
  chunksStart: number;
  chunkCount: number;
  /** The data window's size in pixels. */
  width: number;
  height: number;
}

export function isExr(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x76 && bytes[1] === 0x2f && bytes[2] === 0x31 && bytes[3] === 0x01;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The header's attributes, the offset table's place and length; throws ExrFormatError naming what does not hold. */
export function exrLayout(bytes: Uint8Array): ExrLayout {
  if (!isExr(bytes)) throw new ExrFormatError(`not an OpenEXR file (magic number is not ${MAGIC})`);
  const v = view(bytes);
  const versionField = v.getUint32(4, true);
  if ((versionField & 0xff) !== 2) throw new ExrFormatError(`OpenEXR version ${versionField & 0xff} is not 2`);
  if (versionField & FLAG_MULTI_PART) throw new ExrUnsupportedError("multi-part OpenEXR files are not supported");
  if (versionField & FLAG_DEEP) throw new ExrUnsupportedError("deep OpenEXR files are not supported");
  const maxName = versionField & FLAG_LONG_NAMES ? 255 : 31;
  const attributes: ExrAttribute[] = [];
  let at = 8;
  for (;;) {
    if (at >= bytes.length) throw new ExrFormatError("OpenEXR header has no end (truncated?)");
    if (bytes[at] === 0) break;
    const start = at;
    const name = cString(bytes, at, maxName, "attribute name");
    at += name.length + 1;
    const type = cString(bytes, at, maxName, `type of attribute '${name}'`);
    at += type.length + 1;
    if (at + 4 > bytes.length) throw new ExrFormatError(`OpenEXR attribute '${name}' runs past the end of the file`);
    const size = v.getInt32(at, true);
    const valueStart = at + 4;
    const end = valueStart + size;
    if (size < 0 || end > bytes.length) throw new ExrFormatError(`OpenEXR attribute '${name}' has a bad size ${size}`);
    attributes.push({ name, type, start, valueStart, end });
    at = end;
  }
  const headerEnd = at;
  const tiled = (versionField & FLAG_TILED) !== 0;
  const box = required(attributes, "dataWindow", "box2i", 16);
  const [xMin, yMin, xMax, yMax] = [0, 4, 8, 12].map((o) => v.getInt32(box.valueStart + o, true)) as [number, number, number, number];
  const width = xMax - xMin + 1;
  const height = yMax - yMin + 1;
  if (width < 1 || height < 1) throw new ExrFormatError(`OpenEXR dataWindow is empty (${width}x${height})`);
  const compression = bytes[required(attributes, "compression", "compression", 1).valueStart]!;
  const chunkCount = tiled ? tileCount(bytes, attributes, width, height) : Math.ceil(height / linesPerBlock(compression));
  const declared = attributes.find((a) => a.name === "chunkCount");
  if (declared && v.getInt32(declared.valueStart, true) !== chunkCount) throw new ExrFormatError(`OpenEXR chunkCount ${v.getInt32(declared.valueStart, true)} is not the ${chunkCount} the header implies`);
  const chunksStart = headerEnd + 1 + 8 * chunkCount;
  if (chunksStart > bytes.length) throw new ExrFormatError("OpenEXR offset table runs past the end of the file");
  for (let i = 0; i < chunkCount; i++) {
    const offset = v.getBigUint64(headerEnd + 1 + 8 * i, true);
    if (offset < BigInt(chunksStart) || offset >= BigInt(bytes.length)) throw new ExrFormatError(`OpenEXR chunk ${i} offset ${offset} is outside the file's chunks (incomplete file?)`);
  }
  return { versionField, tiled, attributes, headerEnd, chunksStart, chunkCount, width, height };
}

function linesPerBlock(compression: number): number {
  const lines = LINES_PER_BLOCK[compression];
  if (lines === undefined) throw new ExrUnsupportedError(`OpenEXR compression ${compression} is not one this module knows`);
  return lines;
}

/** Chunks of a single-part tiled image: the tiles of every level the `tiles` attribute's level mode implies. */
export function tileCount(bytes: Uint8Array, attributes: readonly ExrAttribute[], width: number, height: number): number {
  const tiles = required(attributes, "tiles", "tiledesc", 9);
  const v = view(bytes);
  return tilesInLevels(width, height, v.getUint32(tiles.valueStart, true), v.getUint32(tiles.valueStart + 4, true), bytes[tiles.valueStart + 8]!);
}

/** Tiles over all levels for a data window of width x height, tiles of tileW x tileH and the tiledesc mode byte. */
export function tilesInLevels(width: number, height: number, tileW: number, tileH: number, mode: number): number {
  if (tileW < 1 || tileH < 1) throw new ExrFormatError(`OpenEXR tile size ${tileW}x${tileH} is empty`);
  const levelMode = mode & 0x0f;
  const roundUp = (mode >> 4) === 1;
  const levelSize = (size: number, l: number): number => Math.max(1, roundUp ? Math.ceil(size / 2 ** l) : Math.floor(size / 2 ** l));
  const levels = (size: number): number => (roundUp ? Math.ceil(Math.log2(size)) : Math.floor(Math.log2(size))) + 1;
  const tilesAt = (lx: number, ly: number): number => Math.ceil(levelSize(width, lx) / tileW) * Math.ceil(levelSize(height, ly) / tileH);
  let count = 0;
  if (levelMode === 0) count = tilesAt(0, 0);
  else if (levelMode === 1) for (let l = 0; l < levels(Math.max(width, height)); l++) count += tilesAt(l, l);
  else if (levelMode === 2) for (let ly = 0; ly < levels(height); ly++) for (let lx = 0; lx < levels(width); lx++) count += tilesAt(lx, ly);
  else throw new ExrFormatError(`OpenEXR tile level mode ${levelMode} is unknown`);
  return count;
}

function required(attributes: readonly ExrAttribute[], name: string, type: string, minSize: number): ExrAttribute {
  const a = attributes.find((x) => x.name === name);
  if (!a || a.type !== type || a.end - a.valueStart < minSize) throw new ExrFormatError(`OpenEXR header has no valid '${name}' attribute (${type})`);
  return a;
}

function cString(bytes: Uint8Array, at: number, max: number, what: string): string {
  const nul = bytes.indexOf(0, at);
  if (nul < 0 || nul - at > max) throw new ExrFormatError(`OpenEXR ${what} at byte ${at} is not a NUL-ended name of at most ${max} bytes`);
  return Buffer.from(bytes.subarray(at, nul)).toString("latin1");
}

/** The file with `parts` spliced in place of its header, and every offset moved by the header's change in length. */
function rebuilt(bytes: Uint8Array, layout: ExrLayout, header: readonly Uint8Array[]): Buffer {
  const head = Buffer.concat([...header, Buffer.from([0])]);
  const delta = BigInt(head.length - (layout.headerEnd + 1));
  const table = Buffer.from(bytes.subarray(layout.headerEnd + 1, layout.chunksStart));
  for (let i = 0; i < layout.chunkCount; i++) table.writeBigUInt64LE(table.readBigUInt64LE(8 * i) + delta, 8 * i);
  return Buffer.concat([head, table, bytes.subarray(layout.chunksStart)]);
}

/** The header's attributes other than `drop`, as header pieces (magic and version first). */
function headerWithout(bytes: Uint8Array, layout: ExrLayout, drop: (name: string) => boolean): Uint8Array[] {
  return [bytes.subarray(0, 8), ...layout.attributes.filter((a) => !drop(a.name)).map((a) => bytes.subarray(a.start, a.end))];
}

/** One string attribute (name NUL "string" NUL int32 size, the value's bytes) as header bytes. */
function stringAttribute(name: string, value: Uint8Array): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32LE(value.length);
  return Buffer.concat([Buffer.from(`${name}\0string\0`, "latin1"), size, value]);
}

/**
 * Longest value of one attribute. ffmpeg 5.1 (Debian 12's, which assembles
 * the farm's videos) reads an attribute it does not know into a 256-byte
 * buffer and does not skip the rest, so any longer value makes it misread the
 * whole file; OpenEXR itself has no such limit. A longer text is split.
 */
export const EXR_ATTRIBUTE_VALUE_MAX = 255;

/** `name` for the first part of a text, `name.1`, `name.2`, ... for the next. */
const partName = (name: string, i: number): string => (i === 0 ? name : `${name}.${i}`);
const isPartOf = (name: string) => (n: string): boolean => n === name || (n.startsWith(`${name}.`) && /^[1-9][0-9]*$/.test(n.slice(name.length + 1)));

/** The EXR with the text `name` (every attribute of it) removed: the bytes as they were before insertion. */
export function removeExrText(bytes: Uint8Array, name: string): Buffer {
  const layout = exrLayout(bytes);
  const drop = isPartOf(name);
  if (!layout.attributes.some((a) => drop(a.name))) return Buffer.from(bytes);
  return rebuilt(bytes, layout, headerWithout(bytes, layout, drop));
}

/**
 * The EXR with `text` (UTF-8) under `name`, replacing any earlier one: string
 * attributes `name`, `name.1`, ... of at most EXR_ATTRIBUTE_VALUE_MAX bytes
 * each, placed last in the header, in order.
 */
export function withExrText(bytes: Uint8Array, name: string, text: string): Buffer {
  if (!/^[\x21-\x7e]{1,24}$/.test(name)) throw new RangeError(`EXR attribute name must be 1-24 printable ASCII characters: '${name}'`);
  const layout = exrLayout(bytes);
  const value = Buffer.from(text, "utf8");
  const parts: Buffer[] = [];
  for (let i = 0, at = 0; i === 0 || at < value.length; i++, at += EXR_ATTRIBUTE_VALUE_MAX) {
    parts.push(stringAttribute(partName(name, i), value.subarray(at, at + EXR_ATTRIBUTE_VALUE_MAX)));
  }
  return rebuilt(bytes, layout, [...headerWithout(bytes, layout, isPartOf(name)), ...parts]);
}

/** The text under `name` (its parts joined in order), or undefined when the header has none or a part is missing. */
export function readExrText(bytes: Uint8Array, name: string): string | undefined {
  const layout = exrLayout(bytes);
  const parts: Uint8Array[] = [];
  for (let i = 0; ; i++) {
    const a = layout.attributes.find((x) => x.name === partName(name, i) && x.type === "string");
    if (a === undefined) break;
    parts.push(bytes.subarray(a.valueStart, a.end));
  }
  const count = layout.attributes.filter((a) => isPartOf(name)(a.name)).length;
  if (parts.length === 0 || parts.length !== count) return undefined;
  return Buffer.concat(parts).toString("utf8");
}
