import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BadInputError } from "../../shared/errors.ts";
import { assembleVideo } from "../../shared/media/assemble-video.ts";
import { findFfmpeg, findFfprobe } from "../../shared/media/ffmpeg-binaries.ts";
import { FfmpegError } from "../../shared/media/ffmpeg-process.ts";
import { VideoFrameSource, createFrameSource } from "../../shared/media/frame-source.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import { probeVideo, readVideoFrames } from "../../shared/media/video-decode.ts";

const noFfmpeg = findFfmpeg() === null || findFfprobe() === null;

describe("video decode and assembly", { skip: noFfmpeg ? "ffmpeg/ffprobe not installed" : false }, () => {
  let dir: string;
  let mp4: string;
  let mkv: string;
  let all: RgbFrame[];

  const testsrc = (out: string): void => {
    execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x36:rate=12", "-frames:v", "12",
      "-c:v", "libx264", "-pix_fmt", "yuv420p", out]);
  };
  const collect = async (it: AsyncIterable<RgbFrame>): Promise<RgbFrame[]> => {
    const frames: RgbFrame[] = [];
    for await (const f of it) frames.push(f);
    return frames;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nightshift-video-"));
    mp4 = join(dir, "testsrc.mp4");
    mkv = join(dir, "testsrc.mkv");
    testsrc(mp4);
    testsrc(mkv);
    all = await collect(readVideoFrames(mp4, { start: 0, end: 11, width: 64, height: 36 }));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("probe reads size, rate and frame count", async () => {
    const info = await probeVideo(mp4);
    assert.deepEqual([info.width, info.height, info.frameCount, info.fps, info.codec], [64, 36, 12, 12, "h264"]);
  });

  test("probe counts packets when the container has no frame count (mkv)", async () => {
    assert.equal((await probeVideo(mkv)).frameCount, 12);
  });

  test("probe errors name the file", async () => {
    const missing = join(dir, "missing.mp4");
    await assert.rejects(probeVideo(missing), (err: unknown) => err instanceof BadInputError && err.message.includes(missing));
    const junk = join(dir, "junk.mp4");
    await writeFile(junk, "this is not a video");
    await assert.rejects(probeVideo(junk), (err: unknown) => err instanceof BadInputError && err.message.includes(junk));
  });

  test("decoding all frames gives exactly the frame count, distinct frames", () => {
    assert.equal(all.length, 12);
    for (const f of all) assert.equal(f.data.length, 64 * 36 * 3);
    assert.equal(new Set(all.map((f) => Buffer.from(f.data).toString("base64"))).size, 12);
  });

  test("a range decodes exactly those frames", async () => {
    const mid = await collect(readVideoFrames(mp4, { start: 3, end: 5, width: 64, height: 36 }));
    assert.equal(mid.length, 3);
    mid.forEach((f, i) => assert.deepEqual(Buffer.from(f.data), Buffer.from(all[3 + i]!.data)));
  });

  test("asking past the end is an error naming the file", async () => {
    await assert.rejects(collect(readVideoFrames(mp4, { start: 10, end: 13, width: 64, height: 36 })), (err: unknown) =>
      err instanceof FfmpegError && err.message.includes(mp4));
  });

  test("abort stops decoding", async () => {
    const controller = new AbortController();
    const seen: RgbFrame[] = [];
    await assert.rejects(
      (async () => {
        for await (const f of readVideoFrames(mp4, { start: 0, end: 11, width: 64, height: 36, signal: controller.signal })) {
          seen.push(f);
          controller.abort();
        }
      })(),
      { name: "AbortError" },
    );
    assert.equal(seen.length, 1);
  });

  test("the video frame source serves forward reads from one decoder", async () => {
    const source = createFrameSource({ type: "video", path: mp4 }) as VideoFrameSource;
    assert.equal(await source.frameCount(), 12);
    const reads = await Promise.all([2, 3, 4, 5, 6, 7, 8].map((i) => source.read(i)));
    reads.forEach((f, k) => assert.deepEqual(Buffer.from(f.data), Buffer.from(all[2 + k]!.data)));
    assert.equal(source.decoderStarts, 1);
    // Going backwards restarts; still the right frame.
    assert.deepEqual(Buffer.from((await source.read(1)).data), Buffer.from(all[1]!.data));
    assert.equal(source.decoderStarts, 2);
    await assert.rejects(source.read(12), BadInputError);
    await source.close();
    await source.close();
  });

  test("assemble numbered PNGs into an H.264 video, odd size padded", async () => {
    const frames = join(dir, "frames");
    execFileSync("mkdir", ["-p", frames]);
    for (let i = 0; i < 12; i++) {
      const name = `frame_${String(5 + i).padStart(6, "0")}.png`;
      await writeFile(join(frames, name), encodePng(generateFrame(i, 65, 37, 0)));
    }
    const out = join(dir, "out.mp4");
    const result = await assembleVideo({ framesDir: frames, pattern: "frame_%06d.png", startNumber: 5, fps: 24, outPath: out });
    assert.equal(result.path, out);
    assert.ok(result.bytes > 0);
    const info = await probeVideo(out);
    assert.deepEqual([info.frameCount, info.fps, info.width, info.height], [12, 24, 66, 38]);
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes("partial")), []);
  });

  test("assembly failure carries ffmpeg's stderr and leaves nothing behind", async () => {
    const out = join(dir, "broken.mp4");
    await assert.rejects(
      assembleVideo({ framesDir: join(dir, "no-frames"), pattern: "f_%04d.png", startNumber: 0, fps: 24, outPath: out }),
      (err: unknown) => err instanceof FfmpegError && err.stderrTail.length > 0,
    );
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes("broken")), []);
  });
});
