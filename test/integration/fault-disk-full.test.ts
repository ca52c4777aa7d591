import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatedJob, startTestCoordinator, waitUntil } from "../support/farm.ts";
import type { Coordinator } from "../../coordinator/coordinator.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { expectedGeneratedShas } from "../support/expected-frames.ts";
import { removeTextChunk } from "../../shared/media/png-text-chunk.ts";
import { PROVENANCE_KEYWORD } from "../../shared/provenance/provenance-manifest.ts";
import { checkOutput } from "../support/output-check.ts";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

test("the output root fills up: the job pauses with a clear message, no partial frame is left, and it resumes after space is freed", { skip: isRoot ? false : "needs root to mount a small tmpfs as the output root" }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ns-fault-full-"));
  const out = join(dir, "output");
  mkdirSync(out);
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "nightshift-test", out]);
  if (mount.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return t.skip(`cannot mount tmpfs: ${mount.stderr.toString().trim()}`);
  }
  const coordinator = await startTestCoordinator(t, dir, { minFreeBytes: 512 * 1024 });
  const agent = await startLocalAgent(t, coordinator, dir, "a1");
  try {
    await fillAndRecover(coordinator, out, dir);
  } finally {
    // In this order: nothing may hold the mount when it is unmounted, and the dir goes last.
    await agent.stop();
    await coordinator.stop();
    spawnSync("umount", [out]);
    rmSync(dir, { recursive: true, force: true });
  }
});

async function fillAndRecover(coordinator: Coordinator, out: string, dir: string): Promise<void> {
  const [N, W, H] = [64, 320, 180]; // about 28 KB a frame: 64 frames do not fit in 1 MiB
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("full-disk", N, W, H, 4)), dir);

  const paused = await waitUntil(() => {
    const j = coordinator.store.jobs.get(jobId);
    return j?.state === "paused" ? j : undefined;
  }, 60_000, "the job to pause on a full output root");
  assert.equal(paused.pauseReason, "disk-full");
  assert.match(paused.message ?? "", /output root .* is full/);
  assert.match(paused.message ?? "", /resumes by itself/);

  // No partial frame: every file in the job dir is a whole frame whose bytes match the commit record.
  const recorded = new Map(coordinator.store.frames.listByJob(jobId).map((f) => [f.path, f.sha256]));
  const jobDir = paused.outputDir;
  const files = existsSync(jobDir) ? readdirSync(jobDir) : [];
  assert.ok(files.length < N, "the disk filled before the job finished");
  for (const f of files) {
    const p = join(jobDir, f);
    // The sink adds its provenance chunk after recording the agent's bytes: without it, the file is those bytes exactly.
    const agentBytes = removeTextChunk(readFileSync(p), PROVENANCE_KEYWORD);
    assert.equal(createHash("sha256").update(agentBytes).digest("hex"), recorded.get(p), `${f} is whole and recorded`);
  }
  const staging = join(out, ".nightshift-staging");
  await waitUntil(() => !existsSync(staging) || readdirSync(staging).length === 0, 10_000, "staging to be empty");
  const handedBack = coordinator.store.chunks.listByJob(jobId).flatMap((c) => coordinator.store.attempts.listByChunk(c.id)).filter((a) => a.state === "handed-back");
  assert.ok(handedBack.length >= 1, "the refused attempt was handed back, not counted as a failure");
  assert.equal(coordinator.store.chunks.listByJob(jobId).filter((c) => c.state === "failed").length, 0);

  // Free space (grow the filesystem): the job resumes by itself and finishes with every frame right.
  execFileSync("mount", ["-o", "remount,size=16m", out]);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  assert.match(job.message ?? "", /resumed/);
  const check = checkOutput(out, job.outputDir, await expectedGeneratedShas(N, W, H, 3));
  assert.deepEqual([check.missing, check.corrupt, check.unexpected], [[], [], []]);
}
