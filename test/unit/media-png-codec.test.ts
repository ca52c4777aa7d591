import assert from "node:assert/strict";
import { test } from "node:test";
import pngjs from "pngjs";
import { BadInputError } from "../../shared/errors.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { decodePng, encodePng } from "../../shared/media/png-codec.ts";

test("PNG round trip is exact and encoding is byte-stable", () => {
  const frame = generateFrame(3, 64, 36, 7);
  const bytes = encodePng(frame);
  const back = decodePng(bytes);
  assert.equal(back.width, 64);
  assert.equal(back.height, 36);
  assert.deepEqual(Buffer.from(back.data), Buffer.from(frame.data));
  assert.deepEqual(Buffer.from(encodePng({ ...frame, data: new Uint8Array(frame.data) })), Buffer.from(bytes));
  // colour type 2 (RGB, no alpha) in the IHDR chunk
  assert.equal(bytes[25], 2);
});

test("PNG encoding works on a view into a larger buffer", () => {
  const frame = generateFrame(1, 16, 9, 0);
  const padded = new Uint8Array(frame.data.length + 10);
  padded.set(frame.data, 5);
  const view = { width: 16, height: 9, data: padded.subarray(5, 5 + frame.data.length) };
  assert.deepEqual(Buffer.from(decodePng(encodePng(view)).data), Buffer.from(frame.data));
});

test("decodePng drops alpha from RGBA files", () => {
  const png = new pngjs.PNG({ width: 2, height: 1 });
  png.data.set([10, 20, 30, 0, 40, 50, 60, 255]);
  const frame = decodePng(pngjs.PNG.sync.write(png));
  assert.deepEqual([...frame.data], [10, 20, 30, 40, 50, 60]);
});

test("decodePng refuses garbage with a BadInputError naming the source", () => {
  assert.throws(() => decodePng(new Uint8Array([1, 2, 3]), "/tmp/x.png"), (err: unknown) => {
    assert.ok(err instanceof BadInputError);
    assert.match(err.message, /\/tmp\/x\.png/);
    return true;
  });
});

test("encodePng refuses a frame whose buffer does not match its size", () => {
  assert.throws(() => encodePng({ width: 4, height: 4, data: new Uint8Array(10) }), RangeError);
});
