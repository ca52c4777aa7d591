import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { readJobFileChecked } from "../../shared/job-spec/index.ts";
import { findFfmpeg, findFfprobe } from "../../shared/media/ffmpeg-binaries.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";

const README = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "README.md");
const skip = findFfmpeg() === null || findFfprobe() === null ? "needs ffmpeg and ffprobe (apt-get install ffmpeg; CI installs it)" : false;

/** The first yaml block after the README's "### A complete example" heading, as written. */
function completeExample(): string {
  const text = readFileSync(README, "utf8");
  const at = text.indexOf("### A complete example");
  assert.ok(at >= 0, "README has a complete example");
  const block = /```yaml[^\n]*\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(block, "the complete example is a yaml block");
  return block[1] as string;
}

/** A CMX3600 edit of three shots over 120 frames at 24 fps: 0-35, 36-71, 72-119. */
const EDL = `TITLE: EP03
FCM: NON-DROP FRAME

001  AX       V     C        00:00:10:00 00:00:11:12 01:00:00:00 01:00:01:12
002  AX       V     C        00:01:00:00 00:01:01:12 01:00:01:12 01:00:03:00
003  AX       V     C        00:02:00:00 00:02:02:00 01:00:03:00 01:00:05:00
`;

test("the README's complete example runs as written: footage, edit, chain, shots, tags, video", { skip }, async (t) => {
  const dir = tempDir(t, "ns-readme-example-");
  mkdirSync(join(dir, "footage"));
  mkdirSync(join(dir, "shots"));
  execFileSync(findFfmpeg() as string, ["-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=24:duration=5", "-pix_fmt", "yuv420p", join(dir, "footage", "ep03.mp4")]);
  writeFileSync(join(dir, "shots", "ep03.edl"), EDL);
  const file = join(dir, "job.yaml");
  writeFileSync(file, completeExample());

  const coordinator = await startTestCoordinator(t, dir);
  await startLocalAgent(t, coordinator, dir, "untagged");
  await startLocalAgent(t, coordinator, dir, "tagged", { tags: ["studio-a"] });
  const { raw } = await readJobFileChecked(file);
  const { jobId, frames } = await coordinator.api.submit(JSON.stringify(raw), dir);
  assert.equal(frames, 96);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");

  const names = new Map(coordinator.store.agents.list().map((a) => [a.id, a.name]));
  const rows = coordinator.store.frames.listByJob(jobId).sort((a, b) => a.frame - b.frame);
  assert.equal(rows.length, 96);
  assert.deepEqual([...new Set(rows.map((r) => names.get(r.agentId)))], ["tagged"], "constraints.tags: only the studio-a agent renders");
  for (const r of rows) {
    const shot = r.frame <= 35 ? 0 : r.frame <= 71 ? 1 : 2;
    assert.equal(relative(job.outputDir, r.path), `shot_${String(shot).padStart(3, "0")}/frame_${String(r.frame).padStart(6, "0")}.png`);
  }
  assert.ok(relative(join(dir, "output"), job.outputDir).startsWith("ep03/"), job.outputDir);
  const video = join(job.outputDir, "ep03.mp4");
  assert.ok(existsSync(video), job.message ?? "no video");
  const count = execFileSync(findFfprobe() as string, ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", video]).toString().trim();
  assert.equal(Number(count), 96);
});
