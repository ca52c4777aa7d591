import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { PNG } from "pngjs";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { decodePng, encodePng } from "../../shared/media/png-codec.ts";
import { pixelsOf, pngDimensions, rgbPixelsSha256 } from "../../shared/provenance/pixel-hash.ts";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("the pixel hash is the same for every row filter, RGB or RGBA, and equals sha256 of decodePng's samples", () => {
  const frame = generateFrame(5, 37, 23, 3);
  const want = sha(decodePng(encode(frame, 2, 0)).data);
  assert.equal(want, sha(frame.data));
  for (const colorType of [2, 6] as const) {
    for (const filterType of [0, 1, 2, 3, 4, -1]) {
      const p = pixelsOf(encode(frame, colorType, filterType));
      assert.deepEqual(p, { sha256: want, width: 37, height: 23 }, `colorType ${colorType} filter ${filterType}`);
    }
  }
});

test("one changed sample changes the pixel hash; a 16-bit PNG goes the pngjs way", () => {
  const frame = generateFrame(1, 16, 9, 0);
  const a = pixelsOf(encode(frame, 2, -1)).sha256;
  frame.data[40] = frame.data[40]! ^ 1;
  assert.notEqual(pixelsOf(encode(frame, 2, -1)).sha256, a);
  const deep = new PNG({ width: 4, height: 2, bitDepth: 16, colorType: 2, inputHasAlpha: false } as never);
  deep.data = Buffer.alloc(4 * 2 * 6, 0x80) as never;
  const bytes = PNG.sync.write(deep, { bitDepth: 16, colorType: 2, inputHasAlpha: false } as never);
  assert.equal(pixelsOf(bytes).sha256, sha(decodePng(bytes).data));
});

test("from pixels in memory: the same hash as their PNG decodes to, and the PNG's size read from IHDR alone", () => {
  const frame = generateFrame(2, 41, 17, 5);
  const png = encodePng(frame);
  assert.equal(rgbPixelsSha256(frame), pixelsOf(png).sha256);
  assert.deepEqual(pngDimensions(png), { width: 41, height: 17 });
  assert.equal(pngDimensions(png.subarray(0, 20)), undefined, "truncated before IHDR ends");
  assert.equal(pngDimensions(Buffer.from("not a png at all, not at all, no")), undefined);
  assert.throws(() => rgbPixelsSha256({ width: 2, height: 2, data: new Uint8Array(5) }), RangeError);
});

function encode(frame: { width: number; height: number; data: Uint8Array }, colorType: 2 | 6, filterType: number): Buffer {
  const png = new PNG({ width: frame.width, height: frame.height });
  for (let p = 0, s = 0; s < frame.data.length; p += 4, s += 3) {
    png.data[p] = frame.data[s]!;
    png.data[p + 1] = frame.data[s + 1]!;
    png.data[p + 2] = frame.data[s + 2]!;
    png.data[p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType, filterType } as never);
}
