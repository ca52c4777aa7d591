import { test } from "node:test";
import assert from "node:assert/strict";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { assertGeneratedJobDone } from "../support/assert-generated-job.ts";

/**
 * A chunk whose agent died is the next one a surviving agent starts: it does not wait behind the chunks
 * already queued in the pool (coordinator/dispatch/lost-work-first.ts). Asserted on order, not on time.
 */
test("a lost chunk runs again before the chunks that were queued in the pool when it was lost", async (t) => {
  const dir = tempDir(t, "ns-lost-first-");
  const coordinator = await startTestCoordinator(t, dir);
  const victim = await startAgentProcess(t, coordinator.address, "victim", dir);
  await startAgentProcess(t, coordinator.address, "survivor", dir);
  // Frames large enough that a chunk takes a while: the survivor must not drain the pool while the loss is being detected.
  const [W, H, N] = [960, 540, 120];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("lost-first", N, W, H, 10)), dir);
  const store = coordinator.store;
  const victimRow = store.agents.list().find((x) => x.name === "victim");
  assert.ok(victimRow);
  const poolQueued = (): string[] => store.chunks.listByJobInState(jobId, "queued").filter((c) => c.placedAgentId === null).map((c) => c.id);

  // The victim holds a chunk and the pool is full (two per agent): kill it without warning.
  const attempt = await waitUntil(() => poolQueued().length >= 4 && store.attempts.runningForAgent(victimRow.id)[0], 60_000, "the victim to run a chunk with the pool full", 10);
  const queuedAtKill = poolQueued();
  victim.kill("SIGKILL");
  await victim.exited;

  // The pool as the loss is seen: what the lost chunk would wait behind at the back of the queue.
  let queuedAtLoss: string[] = [];
  const lost = await waitUntil(() => {
    const row = store.attempts.get(attempt.id);
    if (row && row.state !== "running") return row;
    queuedAtLoss = poolQueued();
    return undefined;
  }, 30_000, "the attempt to be declared lost", 10);
  assert.equal(lost.state, "lost");
  const lostAt = lost.finishedAt ?? 0;
  const again = await waitUntil(() => store.attempts.listByChunk(attempt.chunkId).find((a) => a.id !== attempt.id), 60_000, "the lost chunk to be claimed again");

  const firstClaim = (chunkId: string): number => Math.min(...store.attempts.listByChunk(chunkId).map((a) => a.createdAt), Infinity);
  // Chunks that were queued in the pool when the chunk was lost (not claimed by then): those queued at the kill
  // and those in the pool at the last look before the loss.
  const stillQueued = [...new Set([...queuedAtKill, ...queuedAtLoss])].filter((id) => id !== attempt.chunkId && firstClaim(id) > lostAt);
  const overtook = stillQueued.filter((id) => firstClaim(id) < again.createdAt);
  t.diagnostic(`pool at the kill: ${queuedAtKill.length}, still queued at the loss: ${stillQueued.length}, claimed before the lost chunk: ${overtook.length}`);
  // At the back of the pool the lost chunk would wait for all of these; two or more tell the orders apart.
  assert.ok(stillQueued.length >= 2, `the pool held ${stillQueued.length} chunks at the loss; the test needs 2 to tell the orders apart`);
  // At most one: the survivor may have had its next pool message in hand (claiming ahead) as the loss was seen.
  assert.ok(overtook.length <= 1, `${overtook.length} chunks queued before the loss were claimed before the lost chunk`);
  assert.notEqual(again.agentId, victimRow.id);

  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
});
