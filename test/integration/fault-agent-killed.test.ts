import { test } from "node:test";
import assert from "node:assert/strict";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { assertGeneratedJobDone } from "../support/assert-generated-job.ts";

test("an agent killed with SIGKILL mid-chunk: loss detected in seconds (its NATS connection closing, else its heartbeats stopping), chunk re-run elsewhere, every frame once", async (t) => {
  const dir = tempDir(t, "ns-fault-kill-");
  const coordinator = await startTestCoordinator(t, dir);
  // The victim starts alone, and the survivor once the loss is seen: with both running, whether the victim took one
  // of the job's four chunks was timing (the survivor could take them while the victim's pull was not open), the
  // race of the claim-next kill test.
  const a = await startAgentProcess(t, coordinator.address, "victim", dir);
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
  const b = await startAgentProcess(t, coordinator.address, "survivor", dir);

  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
  // The lost chunk was committed by the survivor.
  const committed = store.attempts.listByChunk(attempt.chunkId).filter((x) => x.state === "committed");
  assert.equal(committed.length, 1);
  assert.notEqual(committed[0]?.agentId, victim.id);
  await b.stop();
});
