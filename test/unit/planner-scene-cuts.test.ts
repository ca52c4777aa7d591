import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { detectSceneCuts } from "../../coordinator/planner/detect-scenes.ts";
import { planChunks } from "../../coordinator/planner/plan-chunks.ts";
import { shotsFromCuts } from "../../coordinator/planner/scene-cuts.ts";
import { BadInputError, MissingDependencyError } from "../../shared/errors.ts";

describe("shotsFromCuts", () => {
  it("starts a new shot at each cut and covers the range", () => {
    assert.deepEqual(shotsFromCuts([24, 36], 0, 47), [
      { start: 0, end: 23 },
      { start: 24, end: 35 },
      { start: 36, end: 47 },
    ]);
  });

  it("ignores cuts outside (start, end], duplicates and order", () => {
    assert.deepEqual(shotsFromCuts([36, 5, 24, 24, 0, 10, 48, 100], 10, 47), [
      { start: 10, end: 23 },
      { start: 24, end: 35 },
      { start: 36, end: 47 },
    ]);
    assert.deepEqual(shotsFromCuts([], 3, 3), [{ start: 3, end: 3 }]);
    assert.deepEqual(shotsFromCuts([1, 2], 0, 2), [
      { start: 0, end: 0 },
      { start: 1, end: 1 },
      { start: 2, end: 2 },
    ]);
  });

  it("refuses a reversed range", () => {
    assert.throws(() => shotsFromCuts([], 5, 4), /not a frame range/);
  });
});

describe("detectSceneCuts (real ffmpeg)", () => {
  let dir: string;
  let video: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "nightshift-scenes-"));
    video = path.join(dir, "three shots.mkv");
    // 24 red frames, 12 frames of moving test pattern, 12 blue frames: cuts at 24 and 36.
    const lavfi = (source: string) => ["-f", "lavfi", "-i", `${source}:s=64x48:r=24`];
    execFileSync(
      "ffmpeg",
      [
        "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        ...lavfi("color=c=red:d=1"), ...lavfi("testsrc=d=0.5"), ...lavfi("color=c=blue:d=0.5"),
        "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1[v]", "-map", "[v]", "-c:v", "ffv1", video,
      ],
      { stdio: "ignore", timeout: 30_000 },
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the frames where the picture changes", async () => {
    assert.deepEqual(await detectSceneCuts(video, { threshold: 0.3 }), [24, 36]);
  });

  it("finds no cuts above a threshold no change reaches", async () => {
    assert.deepEqual(await detectSceneCuts(video, { threshold: 1 }), []);
  });

  it("feeds the planner shots that temporal context never crosses", async () => {
    const shots = shotsFromCuts(await detectSceneCuts(video, { threshold: 0.3 }), 0, 47);
    const plan = planChunks({ frameStart: 0, frameEnd: 47, chunking: { mode: "fixed", size: 16 }, shots, temporal: { window: 5 } });
    assert.deepEqual(plan, [
      { index: 0, frameStart: 0, frameEnd: 15, contextStart: 0, contextEnd: 17, shot: 0 },
      { index: 1, frameStart: 16, frameEnd: 23, contextStart: 14, contextEnd: 23, shot: 0 },
      { index: 2, frameStart: 24, frameEnd: 35, contextStart: 24, contextEnd: 35, shot: 1 },
      { index: 3, frameStart: 36, frameEnd: 47, contextStart: 36, contextEnd: 47, shot: 2 },
    ]);
  });

  it("reports an unreadable video as bad input naming input.path", async () => {
    const notVideo = path.join(dir, "not-a-video.mp4");
    writeFileSync(notVideo, "this is text");
    for (const file of [notVideo, path.join(dir, "missing.mkv")]) {
      await assert.rejects(detectSceneCuts(file, { threshold: 0.3 }), (err: unknown) => {
        assert.ok(err instanceof BadInputError, String(err));
        assert.equal(err.field, "input.path");
        assert.ok(err.message.startsWith(`input.path: ffmpeg could not read '${file}' for scene detection: `), err.message);
        return true;
      });
    }
  });

  it("does not let a path name a network protocol", async () => {
    await assert.rejects(detectSceneCuts("http://127.0.0.1:9/x.mkv", { threshold: 0.3 }), BadInputError);
  });

  it("reports a missing ffmpeg and a bad threshold", async () => {
    await assert.rejects(detectSceneCuts(video, { threshold: 0.3, ffmpegPath: path.join(dir, "no-ffmpeg") }), MissingDependencyError);
    await assert.rejects(detectSceneCuts(video, { threshold: 1.5 }), /chunking\.detect\.threshold: 1\.5 is not between 0 and 1/);
  });

  it("stops when aborted", async () => {
    await assert.rejects(detectSceneCuts(video, { threshold: 0.3, signal: AbortSignal.abort() }), { name: "AbortError" });
  });
});
