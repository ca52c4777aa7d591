import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { expectedGeneratedShas } from "../support/expected-frames.ts";
import { checkOutput } from "../support/output-check.ts";

test("an agent killed with SIGKILL mid-chunk: loss detected in seconds (its NATS connection closing, else its heartbeats stopping), chunk re-run elsewhere, every frame once", async (t) => {
  const dir = tempDir(t, "ns-fault-kill-");
  const coordinator = await startTestCoordinator(t, dir);
  const a = await startAgentProcess(t, coordinator.address, "victim", dir);
  const b = await startAgentProcess(t, coordinator.address, "survivor", dir);
  const [W, H, N] = [640, 360, 64];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("kill-agent", N, W, H, 16)), dir);
  const store = coordinator.store;
  const victim = store.agents.list().find((x) => x.name === "victim");
  assert.ok(victim);

  // Wait until the victim holds a chunk, then kill it without warning.
  const attempt = await waitUntil(() => store.attempts.runningForAgent(victim.id)[0], 60_000, "the victim to claim a chunk", 10);
  a.kill("SIGKILL");
  const killedAt = Date.now();
  await a.exited;

  const lost = await waitUntil(() => {
    const row = store.attempts.get(attempt.id);
    return row && row.state !== "running" ? row : undefined;
  }, 30_000, "the attempt to be declared lost");
  const detectionSeconds = (Date.now() - killedAt) / 1000;
  assert.equal(lost.state, "lost");
  assert.ok(detectionSeconds < 10, `loss detected after ${detectionSeconds.toFixed(1)} s`);
  t.diagnostic(`loss detected ${detectionSeconds.toFixed(2)} s after SIGKILL (${lost.error ?? ""})`);

  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  const check = checkOutput(join(dir, "output"), job.outputDir, await expectedGeneratedShas(N, W, H, 3));
  assert.deepEqual(check.missing, []);
  assert.deepEqual(check.corrupt, []);
  assert.deepEqual(check.unexpected, []);
  assert.equal(check.stagingLeftovers, 0);
  // The lost chunk was committed by the survivor; every chunk committed exactly once.
  const chunk = store.chunks.get(attempt.chunkId);
  assert.equal(chunk?.state, "done");
  const committed = store.attempts.listByChunk(attempt.chunkId).filter((x) => x.state === "committed");
  assert.equal(committed.length, 1);
  assert.notEqual(committed[0]?.agentId, victim.id);
  for (const c of store.chunks.listByJob(jobId)) {
    assert.equal(store.attempts.listByChunk(c.id).filter((x) => x.state === "committed").length, 1, `chunk ${c.idx} committed once`);
  }
  await b.stop();
});
