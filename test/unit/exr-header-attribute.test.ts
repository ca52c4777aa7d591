import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { findFfmpeg } from "../../shared/media/ffmpeg-binaries.ts";
import {
  EXR_ATTRIBUTE_VALUE_MAX, ExrFormatError, ExrUnsupportedError, exrLayout, readExrText, removeExrText, tilesInLevels, withExrText,
} from "../../shared/media/exr-header-attribute.ts";
import { exrPixelsOf } from "../../shared/provenance/exr-pixel-hash.ts";

/** EXR files written by Blender 3.4.1 and ffmpeg 5.1 (test/fixtures/exr/README.md). */
const FIXTURES = new URL("../fixtures/exr/", import.meta.url).pathname;
const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith(".exr")).sort();
const read = (name: string): Buffer => readFileSync(join(FIXTURES, name));
/** Chunks per file from the spec: ceil(70 lines / lines per block) for the 29x70 Blender files, 35 lines for ffmpeg's. */
const CHUNKS: Record<string, number> = {
  "b44-16.exr": 3, "dwaa-16.exr": 3, "none-32.exr": 70, "piz-16.exr": 3, "pxr24-16.exr": 5, "rle-16.exr": 70, "zip-32.exr": 5, "zips-16.exr": 70,
  "ffmpeg-rle-16.exr": 35, "ffmpeg-zip16-32.exr": 3,
};
const record = JSON.stringify({ manifest: { job: "j1", note: "ünïcödé ✓ ".repeat(40) }, signature: { value: "x".repeat(300) } });

test("every fixture's offset table has the length its compression and data window imply", () => {
  assert.equal(fixtures.length, Object.keys(CHUNKS).length);
  for (const f of fixtures) {
    const l = exrLayout(read(f));
    assert.equal(l.chunkCount, CHUNKS[f], f);
    assert.ok(!l.tiled);
  }
});

test("a text goes into the header, reads back, and removing it gives the original bytes (every compression)", () => {
  for (const f of fixtures) {
    const exr = read(f);
    const stamped = withExrText(exr, "nightshift", record);
    assert.equal(readExrText(stamped, "nightshift"), record, f);
    assert.equal(readExrText(exr, "nightshift"), undefined);
    assert.deepEqual(removeExrText(stamped, "nightshift"), exr, f);
    // Every part stays within what ffmpeg 5.1 can skip.
    for (const a of exrLayout(stamped).attributes) assert.ok(a.end - a.valueStart <= EXR_ATTRIBUTE_VALUE_MAX || !a.name.startsWith("nightshift"));
    // Writing again replaces the text; the pixels' chunks and their hash do not move relative to each other.
    const again = withExrText(stamped, "nightshift", "{}");
    assert.equal(readExrText(again, "nightshift"), "{}");
    assert.equal(exrLayout(again).attributes.filter((a) => a.name.startsWith("nightshift")).length, 1);
    assert.deepEqual(removeExrText(again, "nightshift"), exr);
    assert.equal(exrPixelsOf(stamped).sha256, exrPixelsOf(exr).sha256);
    assert.equal(exrPixelsOf(again).sha256, exrPixelsOf(exr).sha256);
  }
});

test("the pixel hash changes with any pixel byte and carries the data window's size", () => {
  const exr = read("zip-32.exr");
  const p = exrPixelsOf(exr);
  assert.deepEqual([p.width, p.height], [29, 70]);
  const flipped = Buffer.from(exr);
  flipped[flipped.length - 20]! ^= 0x01;
  assert.notEqual(exrPixelsOf(flipped).sha256, p.sha256);
});

test("a missing part makes the text unreadable instead of a truncated record", () => {
  const stamped = withExrText(read("piz-16.exr"), "nightshift", record);
  const renamed = Buffer.from(stamped);
  const at = renamed.indexOf(Buffer.from("nightshift.2\0"));
  assert.ok(at > 0);
  renamed.write("X", at, "latin1"); // "Xightshift.2": another attribute now
  assert.equal(readExrText(renamed, "nightshift"), undefined);
});

const ffmpeg = findFfmpeg();
test("ffmpeg decodes every stamped file to the same samples as the original", { skip: ffmpeg === null ? "ffmpeg not installed" : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), "exr-attr-"));
  try {
    let decoded = 0;
    for (const f of fixtures) {
      const original = decode(ffmpeg!, join(FIXTURES, f));
      if (original === undefined) continue; // ffmpeg 5.1 cannot decode DWAA: the OpenEXR check is the Blender e2e test's
      const stampedPath = join(dir, f);
      writeFileSync(stampedPath, withExrText(read(f), "nightshift", record));
      const stamped = decode(ffmpeg!, stampedPath);
      assert.ok(stamped !== undefined, `${f}: ffmpeg cannot decode the stamped file`);
      assert.ok(stamped.equals(original), `${f}: samples differ after stamping`);
      decoded++;
    }
    assert.ok(decoded >= 8, `only ${decoded} fixtures decoded`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a tiled EXR: its tiles are counted from the tiledesc, shifted, and ffmpeg still decodes it", () => {
  const exr = tiledExr(5, 3, 2, 2);
  const l = exrLayout(exr);
  assert.ok(l.tiled);
  assert.equal(l.chunkCount, 6);
  const stamped = withExrText(exr, "nightshift", record);
  assert.deepEqual(removeExrText(stamped, "nightshift"), exr);
  if (ffmpeg === null) return;
  const dir = mkdtempSync(join(tmpdir(), "exr-tiled-"));
  try {
    writeFileSync(join(dir, "a.exr"), exr);
    writeFileSync(join(dir, "b.exr"), stamped);
    const a = decode(ffmpeg, join(dir, "a.exr"));
    assert.ok(a !== undefined, "ffmpeg decodes the hand-built tiled file");
    assert.equal(a.readFloatLE(4 * (5 * 3 * 2 + 5 * 1 + 4)), Math.fround(sample(4, 1, 0))); // R plane, x 4, y 1 (an edge tile)
    assert.deepEqual(decode(ffmpeg, join(dir, "b.exr")), a);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tiles over all levels: one level, mipmaps and ripmaps, rounding down and up", () => {
  assert.equal(tilesInLevels(5, 3, 2, 2, 0x00), 6);
  // Mipmap of 5x3, round down: 5x3, 2x1, 1x1 -> 6 + 1 + 1.
  assert.equal(tilesInLevels(5, 3, 2, 2, 0x01), 8);
  // Round up: 5x3, 3x2, 2x1, 1x1 (ceil(log2 5) + 1 = 4 levels) -> 6 + 2 + 1 + 1.
  assert.equal(tilesInLevels(5, 3, 2, 2, 0x11), 10);
  // Ripmap round down: widths 5, 2, 1 (x levels) by heights 3, 1 (y levels) -> (3+1+1)*2 + (3+1+1)*1.
  assert.equal(tilesInLevels(5, 3, 2, 2, 0x02), 15);
  assert.throws(() => tilesInLevels(5, 3, 2, 2, 0x03), ExrFormatError);
});

test("bad and unsupported files are refused by name", () => {
  const exr = read("zip-32.exr");
  assert.throws(() => exrLayout(Buffer.from("not an exr at all")), /not an OpenEXR file/);
  assert.throws(() => exrLayout(exr.subarray(0, 200)), ExrFormatError);
  assert.throws(() => exrLayout(exr.subarray(0, exrLayout(exr).chunksStart - 4)), /offset table runs past/);
  const multi = Buffer.from(exr);
  multi.writeUInt32LE(2 | 0x1000, 4);
  assert.throws(() => exrLayout(multi), ExrUnsupportedError);
  const deep = Buffer.from(exr);
  deep.writeUInt32LE(2 | 0x800, 4);
  assert.throws(() => exrLayout(deep), /deep/);
  const zeroed = Buffer.from(exr);
  zeroed.writeBigUInt64LE(0n, exrLayout(exr).headerEnd + 1); // an incomplete file's table
  assert.throws(() => exrLayout(zeroed), /chunk 0 offset 0/);
  assert.throws(() => withExrText(exr, "bad name", "x"), RangeError);
});

/** ffmpeg's decode of an EXR as 32-bit float planes, or undefined when it fails. */
function decode(ffmpeg: string, path: string): Buffer | undefined {
  const r = spawnSync(ffmpeg, ["-v", "error", "-f", "image2", "-i", path, "-f", "rawvideo", "-pix_fmt", "gbrpf32le", "-"], { maxBuffer: 64 << 20 });
  return r.status === 0 && r.stderr.length === 0 && r.stdout.length > 0 ? r.stdout : undefined;
}

const sample = (x: number, y: number, c: number): number => (x * 10 + y + c * 100) / 1000;

/**
 * A single-part tiled EXR (one level, no compression, float B, G, R), laid out
 * by the spec: header, tile offset table, then per tile its coordinates, level,
 * size and its lines (each channel's samples for the tile's width).
 */
function tiledExr(w: number, h: number, tw: number, th: number): Buffer {
  const attr = (name: string, type: string, value: Buffer): Buffer => {
    const size = Buffer.alloc(4);
    size.writeInt32LE(value.length);
    return Buffer.concat([Buffer.from(`${name}\0${type}\0`, "latin1"), size, value]);
  };
  const i32 = (...v: number[]): Buffer => Buffer.from(Int32Array.from(v).buffer);
  const f32 = (...v: number[]): Buffer => Buffer.from(Float32Array.from(v).buffer);
  const channel = (name: string): Buffer => Buffer.concat([Buffer.from(`${name}\0`), i32(2), Buffer.from([0, 0, 0, 0]), i32(1, 1)]);
  const header = Buffer.concat([
    i32(20000630, 2 | 0x200),
    attr("channels", "chlist", Buffer.concat([channel("B"), channel("G"), channel("R"), Buffer.from([0])])),
    attr("compression", "compression", Buffer.from([0])),
    attr("dataWindow", "box2i", i32(0, 0, w - 1, h - 1)),
    attr("displayWindow", "box2i", i32(0, 0, w - 1, h - 1)),
    attr("lineOrder", "lineOrder", Buffer.from([0])),
    attr("pixelAspectRatio", "float", f32(1)),
    attr("screenWindowCenter", "v2f", f32(0, 0)),
    attr("screenWindowWidth", "float", f32(1)),
    attr("tiles", "tiledesc", Buffer.concat([Buffer.from(Uint32Array.from([tw, th]).buffer), Buffer.from([0])])),
    Buffer.from([0]),
  ]);
  const tiles: Buffer[] = [];
  for (let ty = 0; ty * th < h; ty++) {
    for (let tx = 0; tx * tw < w; tx++) {
      const lines: Buffer[] = [];
      for (let y = ty * th; y < Math.min(h, (ty + 1) * th); y++) {
        for (const c of [2, 1, 0]) {
          const xs: number[] = [];
          for (let x = tx * tw; x < Math.min(w, (tx + 1) * tw); x++) xs.push(sample(x, y, c));
          lines.push(f32(...xs));
        }
      }
      const data = Buffer.concat(lines);
      tiles.push(Buffer.concat([i32(tx, ty, 0, 0, data.length), data]));
    }
  }
  const table = Buffer.alloc(8 * tiles.length);
  let at = header.length + table.length;
  tiles.forEach((t, i) => {
    table.writeBigUInt64LE(BigInt(at), 8 * i);
    at += t.length;
  });
  return Buffer.concat([header, table, ...tiles]);
}
