import assert from "node:assert/strict";
import { test } from "node:test";
import { FrameEncoder, FrameEncoderError } from "../../agent/executors/frame-encoder.ts";
import { encodeRgbFrame } from "../../agent/executors/frame-encoding.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { pixelsOf } from "../../shared/provenance/pixel-hash.ts";
import { threadNames } from "../helpers/thread-names.ts";

/**
 * The frame encoder's thread (agent/executors/frame-encoder.ts) gives the
 * bytes and pixel hash the calling thread would, in order, takes a frame
 * handed over with `transfer` without copying it, and refuses work once closed.
 */

test("the encoder thread's PNG and pixel hash are the calling thread's, frame by frame and in order", async () => {
  const encoder = new FrameEncoder();
  try {
    const frames = [0, 1, 2, 3].map((i) => generateFrame(i, 48, 27, 5));
    const here = frames.map((f) => encodeRgbFrame(f, true));
    const there = await Promise.all(frames.map((f) => encoder.encode(f, { hash: true, transfer: false })));
    for (const [i, p] of there.entries()) {
      assert.deepEqual(Buffer.from(p.data), Buffer.from(here[i]!.data), `frame ${i}`);
      assert.equal(p.pixelsSha256, here[i]!.pixelsSha256);
      assert.equal(p.pixelsSha256, pixelsOf(p.data).sha256);
      assert.ok(p.seconds >= 0);
    }
    // Not asked to hash: no hash.
    assert.equal((await encoder.encode(frames[0]!, { hash: false, transfer: false })).pixelsSha256, undefined);
  } finally {
    await encoder.close();
  }
});

test("a frame handed over with transfer loses its buffer (no copy); a closed encoder refuses work", async () => {
  const encoder = new FrameEncoder();
  const frame = generateFrame(9, 32, 18, 1);
  const expected = encodeRgbFrame(frame, true);
  const own = { ...frame, data: frame.data.slice() };
  const got = await encoder.encode(own, { hash: true, transfer: true });
  assert.equal(own.data.byteLength, 0, "the frame's buffer went to the thread");
  assert.deepEqual(Buffer.from(got.data), Buffer.from(expected.data));
  await encoder.close();
  await encoder.close();
  await assert.rejects(encoder.encode(frame, { hash: true, transfer: false }), FrameEncoderError);
});

test("the encoder thread names itself ns-png-encoder for the OS (top -H, /proc), where /proc exists", async (t) => {
  if (threadNames() === undefined) return t.skip("no /proc/thread-self: thread names are Linux only");
  const encoder = new FrameEncoder();
  try {
    await encoder.encode(generateFrame(0, 16, 9, 1), { hash: false, transfer: false });
    const names = threadNames() ?? [];
    assert.ok(names.includes("ns-png-encoder"), `threads: ${names.join(", ")}`);
  } finally {
    await encoder.close();
  }
});
