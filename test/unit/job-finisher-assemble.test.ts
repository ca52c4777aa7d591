import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import { JobFinisher } from "../../coordinator/jobs/job-finisher.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import { framePathFor } from "../../coordinator/jobs/job-paths.ts";
import { validateJobSpec } from "../../shared/job-spec/index.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { findFfmpeg } from "../../shared/media/assemble-video.ts";
import { insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { testLog } from "../helpers/test-log.ts";

test("the assemble step runs only once every frame step's chunks are done, then the video holds every frame", async (t) => {
  const { store, dir } = openTempStore(t);
  const spec = validateJobSpec({
    name: "assemble-after",
    input: { type: "generated", width: 32, height: 18, frames: 6 },
    steps: [
      { id: "grade", kind: "model", model: "colour-grade" },
      { id: "video", kind: "assemble", after: ["grade"], crf: 30 },
    ],
    chunking: { mode: "fixed", size: 2 },
  });
  const outputDir = join(dir, "out");
  const job = insertJob(store, { id: "job_asm", frameStart: 0, frameEnd: 5, outputDir });
  store.db.prepare(`UPDATE jobs SET spec_json = ?, fps = 24 WHERE id = ?`).run(JSON.stringify(spec), job.id);
  const chunks = insertChunks(store, job.id, [[0, 1], [2, 3], [4, 5]]);
  const specs = new JobSpecs();
  const finisher = new JobFinisher(store, specs, manualClock(5_000).now, testLog());
  const seen: string[] = [];
  finisher.on("changed", () => seen.push(`${store.jobs.get(job.id)?.state}:${store.chunks.counts(job.id).done}`));

  /** What the sink does when a chunk commits: frames in place, the chunk done, then the finisher is told. */
  const commit = (i: number): void => {
    const c = chunks[i]!;
    mkdirSync(outputDir, { recursive: true });
    for (let f = c.frameStart; f <= c.frameEnd; f++) writeFileSync(framePathFor(store.jobs.get(job.id)!, spec, f), encodePng(generateFrame(f, 32, 18, 1)));
    store.chunks.transition(c.id, "queued", 6_000, { dispatchId: `dsp${i}` });
    store.chunks.transition(c.id, "running", 6_000, { currentAttemptId: `att${i}` });
    store.chunks.transition(c.id, "done", 6_000, {});
    finisher.check(job.id);
  };
  store.jobs.transition(job.id, "running", 5_500);
  commit(0);
  commit(2);
  assert.equal(store.jobs.get(job.id)?.state, "running", "two of three chunks: the assemble step waits");
  commit(1);
  const done = await finisher.waitFor(job.id);
  await finisher.settle();
  assert.deepEqual(seen.slice(0, 2), ["running:1", "running:2"]);
  assert.ok(seen.includes("assembling:3"), `assembly began only with all 3 chunks done: ${seen.join(" ")}`);
  assert.ok(!seen.some((s) => s.startsWith("assembling:") && s !== "assembling:3"));
  assert.equal(done.state, "done");
  if (!findFfmpeg()) return t.diagnostic("ffmpeg missing: ordering checked, no video to inspect");
  const video = store.jobs.get(job.id)?.videoPath;
  assert.ok(video && existsSync(video), `video assembled (${store.jobs.get(job.id)?.message ?? ""})`);
  const probe = spawnSync("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", video], { encoding: "utf8" });
  if (probe.status === 0) assert.equal(Number(probe.stdout.trim()), 6);
});
