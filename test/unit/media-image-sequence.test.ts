import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { BadInputError } from "../../shared/errors.ts";
import { findFfmpeg } from "../../shared/media/ffmpeg-binaries.ts";
import { createFrameSource } from "../../shared/media/frame-source.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { listImageSequence, naturalCompare, readImageFile } from "../../shared/media/image-sequence.ts";
import { encodePng } from "../../shared/media/png-codec.ts";

let dir: string;
/** file name -> the generated frame index written into it */
const files: [string, number][] = [["frame_10.png", 10], ["frame_2.png", 2], ["frame_9.png", 9], ["frame_1.png", 1]];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nightshift-seq-"));
  for (const [name, index] of files) await writeFile(join(dir, name), encodePng(generateFrame(index, 16, 9, 0)));
  await writeFile(join(dir, "notes.txt"), "not a frame");
  await writeFile(join(dir, ".hidden.png"), "not a frame either");
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("natural order puts frame_2 before frame_10", () => {
  assert.deepEqual(["a10", "a2", "a1", "b1", "a02"].sort(naturalCompare), ["a1", "a2", "a02", "a10", "b1"]);
  assert.ok(naturalCompare("shot_99999999999999999999.png", "shot_100000000000000000000.png") < 0);
});

test("an image sequence lists only images, in natural order", async () => {
  const listed = await listImageSequence(dir);
  assert.deepEqual(listed.map((p) => basename(p)), ["frame_1.png", "frame_2.png", "frame_9.png", "frame_10.png"]);
});

test("the image-sequence frame source reads frame i from the i-th file", async () => {
  const source = createFrameSource({ type: "image-sequence", path: dir });
  assert.equal(await source.frameCount(), 4);
  const expected = [1, 2, 9, 10];
  for (let i = 0; i < 4; i++) {
    const frame = await source.read(i);
    assert.deepEqual(Buffer.from(frame.data), Buffer.from(generateFrame(expected[i]!, 16, 9, 0).data), `frame ${i}`);
  }
  await assert.rejects(source.read(4), BadInputError);
  await source.close();
});

test("a missing or empty directory is a BadInputError naming it", async () => {
  const missing = join(dir, "nope");
  await assert.rejects(listImageSequence(missing), (err: unknown) => err instanceof BadInputError && err.message.includes(missing));
  const empty = await mkdtemp(join(tmpdir(), "nightshift-empty-"));
  try {
    await assert.rejects(listImageSequence(empty), (err: unknown) => err instanceof BadInputError && /no image files/.test(err.message));
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test("non-PNG images are decoded through ffmpeg", { skip: findFfmpeg() === null ? "ffmpeg not installed" : false }, async () => {
  const png = join(dir, "frame_2.png");
  const bmp = join(dir, "..", `${basename(dir)}-frame.bmp`);
  execFileSync("ffmpeg", ["-v", "error", "-y", "-i", png, bmp]);
  try {
    const frame = await readImageFile(bmp);
    assert.equal(frame.width, 16);
    assert.deepEqual(Buffer.from(frame.data), Buffer.from(generateFrame(2, 16, 9, 0).data));
  } finally {
    await rm(bmp, { force: true });
  }
});
