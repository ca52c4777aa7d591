import assert from "node:assert/strict";
import { join } from "node:path";
import type { Coordinator } from "../../coordinator/coordinator.ts";
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

/** The generated job's output under `<dir>/output`: every frame in place with the right bytes, nothing extra, nothing left in staging. */
export async function assertGeneratedOutput(dir: string, outputDir: string, frames: number, width: number, height: number): Promise<void> {
  const check = checkOutput(join(dir, "output"), outputDir, await expectedGeneratedShas(frames, width, height, 3));
  assert.deepEqual(check.missing, []);
  assert.deepEqual(check.corrupt, []);
  assert.deepEqual(check.unexpected, []);
  assert.equal(check.stagingLeftovers, 0);
}
