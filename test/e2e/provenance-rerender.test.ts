import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { decodePng, encodePng } from "../../shared/media/png-codec.ts";
import type { RerenderReport } from "../../cli/commands/verify-rerender.ts";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir } from "../support/farm.ts";
import { runCli } from "../support/run-cli.ts";

/**
 * `nightshift verify --rerender N JOB` on a real farm: a job rendered by agent
 * "first" alone, then a second agent joins; the re-render must run there, and
 * the demo model gives the same pixels (exit 0). With one original frame
 * altered on disk, the declared-deterministic model step fails the check (1).
 */
test("verify --rerender re-renders sampled frames on another agent and compares pixels", async (t) => {
  const dir = tempDir(t, "ns-rerender-");
  const coordinator = await startTestCoordinator(t, dir);
  const dataDir = join(dir, "data");
  await startAgentProcess(t, coordinator.address, "first", dir);
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("rerender", 6, 64, 36, 3)), dir);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");

  const usage = await runCli(["verify", "--rerender", "0", jobId, "--data-dir", dataDir, "--coordinator", coordinator.address]);
  assert.equal(usage.status, 2, usage.stderr);
  const onlyOriginal = await runCli(["verify", "--rerender", "2", jobId, "--data-dir", dataDir, "--coordinator", coordinator.address]);
  assert.equal(onlyOriginal.status, 2, "no other agent enrolled is bad input");
  assert.match(onlyOriginal.stderr, /no agent other than/);

  await startAgentProcess(t, coordinator.address, "second", dir);
  const run = await runCli(["verify", "--rerender", "3", jobId, "--data-dir", dataDir, "--coordinator", coordinator.address, "--json"], { timeoutMs: 180_000 });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as RerenderReport;
  assert.deepEqual(report.frames.map((f) => f.frame), [0, 3, 5], "first, middle and last committed frames");
  for (const f of report.frames) {
    assert.equal(f.original.agent, "first");
    assert.equal(f.rerender.agent, "second", "placed off the original agent");
    assert.equal(f.exact, true, `frame ${f.frame}: max abs diff ${f.maxAbsDiff}`);
  }
  assert.deepEqual(report.steps, [{ id: "grade", kind: "model", declaredDeterministic: true }]);
  assert.equal(report.chain.deterministic, true);
  assert.deepEqual(report.avoidedAgents, ["first"]);

  // Change one sample of the original frame 3 (the one frame --rerender 1 picks): the model step is declared deterministic, so the check fails.
  const path = report.frames.find((f) => f.frame === 3)!.original.path;
  const frame = decodePng(readFileSync(path));
  frame.data[0] = frame.data[0]! >= 128 ? frame.data[0]! - 7 : frame.data[0]! + 7;
  writeFileSync(path, encodePng(frame));
  const bad = await runCli(["verify", "--rerender", "1", jobId, "--data-dir", dataDir, "--coordinator", coordinator.address, "--json"], { timeoutMs: 180_000 });
  assert.equal(bad.status, 1, bad.stderr);
  const badReport = JSON.parse(bad.stdout) as RerenderReport;
  assert.equal(badReport.ok, false);
  assert.deepEqual(badReport.frames.map((f) => [f.frame, f.exact, f.maxAbsDiff, f.differingSamples]), [[3, false, 7, 1]]);
});
