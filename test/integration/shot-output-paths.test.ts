import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { findFfmpeg, findFfprobe } from "../../shared/media/ffmpeg-binaries.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";

const skip = findFfmpeg() === null || findFfprobe() === null ? "needs ffmpeg and ffprobe (apt-get install ffmpeg; CI installs it)" : false;

test("{shot} in the frame pattern is each frame's shot number in the edit, and the video still holds every frame in order", { skip }, async (t) => {
  const dir = tempDir(t, "ns-shots-");
  const coordinator = await startTestCoordinator(t, dir);
  await startLocalAgent(t, coordinator, dir, "a");
  // Shot 0 lies before the rendered range: numbers follow the edit, not the range.
  writeFileSync(join(dir, "shots.csv"), "start,end\n0,3\n4,9\n10,15\n16,23\n");
  const spec = {
    name: "shots",
    input: { type: "generated", width: 32, height: 18, frames: 24 },
    frames: { start: 6, end: 19 },
    steps: [
      { id: "grade", kind: "model", model: "colour-grade" },
      { id: "video", kind: "assemble", crf: 30 },
    ],
    chunking: { mode: "shots", shotList: "shots.csv", maxSize: 4 },
    output: { path: "{job}", framePattern: "shot_{shot:03}/frame_{frame:04}.png", video: "all.mp4" },
  };
  const { jobId } = await coordinator.api.submit(JSON.stringify(spec), dir);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  const frames = coordinator.store.frames.listByJob(jobId).sort((a, b) => a.frame - b.frame);
  assert.equal(frames.length, 14);
  for (const f of frames) {
    const shot = f.frame <= 9 ? 1 : f.frame <= 15 ? 2 : 3;
    assert.equal(relative(job.outputDir, f.path), `shot_${String(shot).padStart(3, "0")}/frame_${String(f.frame).padStart(4, "0")}.png`);
    assert.ok(existsSync(f.path));
  }
  const video = join(job.outputDir, "all.mp4");
  assert.ok(existsSync(video), job.message ?? "no video");
  const count = execFileSync(findFfprobe() as string, ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", video]).toString().trim();
  assert.equal(Number(count), 14);
});
