import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Coordinator } from "../../coordinator/coordinator.ts";
import { SPARE_IDLE_MS } from "../../coordinator/sink/staging-removals.ts";
import { expectedGeneratedShas } from "./expected-frames.ts";
import { checkOutput } from "./output-check.ts";

/**
 * Why this file exists: the fault tests end the same way: the generated job
 * (generatedJob, seed 3) finishes done, every frame is in place with the
 * right bytes, nothing extra, nothing left in staging, and every chunk was
 * committed exactly once whatever was lost on the way.
 */
export async function assertGeneratedJobDone(coordinator: Coordinator, dir: string, jobId: string, frames: number, width: number, height: number): Promise<void> {
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  await assertGeneratedOutput(dir, job.outputDir, frames, width, height);
  for (const c of coordinator.store.chunks.listByJob(jobId)) {
    assert.equal(coordinator.store.attempts.listByChunk(c.id).filter((x) => x.state === "committed").length, 1, `chunk ${c.idx} committed once`);
  }
}

/**
 * A job's last commits leave their emptied staging dirs as spares for the next uploads, removed SPARE_IDLE_MS
 * after the last one was taken (coordinator/sink/staging-removals.ts): a check made at once after the job ends
 * could see them. Waits, bounded, until the staging root is empty; the output check then still fails on anything
 * left there.
 */
async function spareStagingDirsGone(outputRoot: string): Promise<void> {
  const staging = join(outputRoot, ".nightshift-staging");
  const until = Date.now() + 20 * SPARE_IDLE_MS;
  while (Date.now() < until && existsSync(staging) && readdirSync(staging).length > 0) await sleep(SPARE_IDLE_MS / 5);
}

/**
 * The generated job's output under `<dir>/output`: every frame in place with the right bytes, nothing extra, nothing
 * left in staging (once the spare staging dirs had their time to go: a job done by a coordinator in another process,
 * read from its store, is checked here too, and only the time spent computing the expected frames stood between
 * its last commit and the look at staging).
 */
export async function assertGeneratedOutput(dir: string, outputDir: string, frames: number, width: number, height: number): Promise<void> {
  await spareStagingDirsGone(join(dir, "output"));
  const check = checkOutput(join(dir, "output"), outputDir, await expectedGeneratedShas(frames, width, height, 3));
  assert.deepEqual(check.missing, []);
  assert.deepEqual(check.corrupt, []);
  assert.deepEqual(check.unexpected, []);
  assert.equal(check.stagingLeftovers, 0);
}
