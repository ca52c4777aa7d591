import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { findFfmpeg } from "../../shared/media/assemble-video.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { decodePng, encodePng } from "../../shared/media/png-codec.ts";
import { PngFormatError, readTextChunk, removeTextChunk, withTextChunk } from "../../shared/media/png-text-chunk.ts";

const png = encodePng(generateFrame(2, 40, 30, 1));
const text = JSON.stringify({ job: "j1", note: "ünïcödé ✓", n: 1.5 });

test("an iTXt chunk goes in before IEND, reads back, and removing it restores the exact bytes", () => {
  const stamped = withTextChunk(png, "nightshift", text);
  assert.equal(readTextChunk(stamped, "nightshift"), text);
  assert.equal(readTextChunk(png, "nightshift"), undefined);
  assert.ok(Buffer.from(stamped.subarray(-12, -4)).toString("latin1").endsWith("IEND"));
  assert.deepEqual(removeTextChunk(stamped, "nightshift"), Buffer.from(png));
  // Writing again replaces the record instead of adding a second one.
  const again = withTextChunk(stamped, "nightshift", "{}");
  assert.equal(readTextChunk(again, "nightshift"), "{}");
  assert.equal(again.length, png.length + 12 + "nightshift".length + 5 + 2);
});

test("pngjs decodes the stamped PNG to the same pixels (its CRC checks pass)", () => {
  const stamped = withTextChunk(png, "nightshift", text);
  const a = decodePng(png);
  const b = PNG.sync.read(stamped, { checkCRC: true } as never);
  assert.equal(b.width, 40);
  const rgb = new Uint8Array(40 * 30 * 3);
  for (let s = 0, d = 0; d < rgb.length; s += 4, d += 3) rgb.set(b.data.subarray(s, s + 3), d);
  assert.deepEqual(rgb, a.data);
});

test("a flipped byte in the chunk fails its CRC and the record is not read", () => {
  const stamped = Buffer.from(withTextChunk(png, "nightshift", text));
  const at = stamped.indexOf(Buffer.from("ünï", "utf8"));
  stamped[at] = stamped[at]! ^ 1;
  assert.equal(readTextChunk(stamped, "nightshift"), undefined);
});

test("not a PNG, or a truncated one, is a PngFormatError", () => {
  assert.throws(() => readTextChunk(Buffer.from("hello, not a png"), "nightshift"), PngFormatError);
  assert.throws(() => withTextChunk(png.subarray(0, png.length - 12), "nightshift", "{}"), PngFormatError);
});

const ffmpeg = findFfmpeg();
test("ffmpeg decodes the stamped PNG to the same pixels", { skip: ffmpeg ? false : "ffmpeg not installed" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ns-itxt-"));
  try {
    const file = join(dir, "f.png");
    writeFileSync(file, withTextChunk(png, "nightshift", text));
    const r = spawnSync(ffmpeg!, ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], { maxBuffer: 1 << 20 });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(r.stderr.toString(), "");
    assert.deepEqual(new Uint8Array(r.stdout), decodePng(png).data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
