import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { expectedGeneratedShas } from "../support/expected-frames.ts";
import { checkOutput } from "../support/output-check.ts";

test("nats-server killed mid-job: the coordinator restarts it on the same port, agents reconnect, the job completes", async (t) => {
  const dir = tempDir(t, "ns-fault-nats-");
  const coordinator = await startTestCoordinator(t, dir);
  await startAgentProcess(t, coordinator.address, "a1", dir);
  const [W, H, N] = [640, 360, 64];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("nats-restart", N, W, H, 16)), dir);
  const store = coordinator.store;
  await waitUntil(() => store.chunks.counts(jobId).done >= 1, 60_000, "one chunk done");

  const oldPid = coordinator.natsPid;
  assert.ok(oldPid);
  const restarted = new Promise<string>((resolve) => coordinator.natsServer?.once("restarted", resolve));
  process.kill(oldPid, "SIGKILL");
  const url = await restarted;
  assert.equal(url, coordinator.natsUrl, "same URL after the restart");
  assert.notEqual(coordinator.natsPid, oldPid);

  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  const check = checkOutput(join(dir, "output"), job.outputDir, await expectedGeneratedShas(N, W, H, 3));
  assert.deepEqual([check.missing, check.corrupt, check.unexpected], [[], [], []]);
  for (const c of store.chunks.listByJob(jobId)) {
    assert.equal(store.attempts.listByChunk(c.id).filter((x) => x.state === "committed").length, 1);
  }
});
