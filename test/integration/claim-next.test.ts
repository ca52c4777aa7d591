import { test } from "node:test";
import assert from "node:assert/strict";
import { ANSWERED_PREFIX } from "../../coordinator/dispatch/claim-service.ts";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { assertGeneratedJobDone } from "../support/assert-generated-job.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";

/**
 * A claim answered with the next chunk's work (coordinator/scheduling/pick-next.ts, agent/nats/work-loop.ts
 * takeNext): a real coordinator (embedded nats-server, gRPC on loopback) and real agents.
 */

const answered = (dispatchId: string | null): boolean => dispatchId?.startsWith(`${ANSWERED_PREFIX}_`) === true;

test("after its first chunk, an agent's chunks reach it as claim answers: fewer work messages published than chunks run", async (t) => {
  const dir = tempDir(t, "ns-claim-next-");
  const coordinator = await startTestCoordinator(t, dir);
  const agent = await startLocalAgent(t, coordinator, dir, "solo");
  const [W, H, N, SIZE] = [32, 32, 24, 2];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("next", N, W, H, SIZE)), dir);
  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
  const chunks = coordinator.store.chunks.listByJob(jobId);
  const byAnswer = chunks.filter((c) => answered(c.dispatchId)).length;
  const published = coordinator.workMessagesPublished;
  t.diagnostic(`${chunks.length} chunks: ${byAnswer} answered, ${published} work messages published, agent counted ${agent.nextAnswered}`);
  assert.equal(agent.nextAnswered, byAnswer);
  // The pool's first messages (two per agent) are published at submit; the chunks after them come by answer.
  assert.ok(byAnswer >= chunks.length / 2, `only ${byAnswer} of ${chunks.length} chunks came by answer`);
  assert.ok(published <= chunks.length - byAnswer, `${published} messages published for ${chunks.length - byAnswer} chunks not answered`);
});

test("a higher-priority job submitted while an agent works through a lower one: its chunks are the ones answered next", async (t) => {
  const dir = tempDir(t, "ns-claim-next-priority-");
  const coordinator = await startTestCoordinator(t, dir);
  await startLocalAgent(t, coordinator, dir, "solo");
  const store = coordinator.store;
  const { jobId: low } = await coordinator.api.submit(JSON.stringify(generatedJob("low", 40, 320, 180, 2)), dir);
  // A few of the low job's chunks by answer first, so the agent is in the answered flow when the high job comes.
  await waitUntil(() => store.chunks.listByJob(low).filter((c) => c.state === "done" && answered(c.dispatchId)).length >= 2, 60_000, "low chunks done by answer", 10);
  const { jobId: high } = await coordinator.api.submit(JSON.stringify({ ...generatedJob("high", 6, 32, 32, 2), priority: 50 }), dir);
  assert.equal((await coordinator.finisher.waitFor(high)).state, "done");
  const highClaims = store.chunks.listByJob(high).flatMap((c) => store.attempts.listByChunk(c.id));
  const submittedAt = Math.min(...highClaims.map((a) => a.createdAt));
  const lastHigh = Math.max(...highClaims.map((a) => a.createdAt));
  const lowBetween = store.chunks.listByJob(low).filter((c) => store.attempts.listByChunk(c.id).some((a) => a.createdAt > submittedAt && a.createdAt < lastHigh));
  const lowAnswered = lowBetween.filter((c) => answered(c.dispatchId));
  const highAnswered = store.chunks.listByJob(high).filter((c) => answered(c.dispatchId)).length;
  t.diagnostic(`high chunks by answer: ${highAnswered} of 3; low chunks claimed among them: ${lowBetween.length}, by answer ${lowAnswered.length}`);
  assert.ok(highAnswered >= 1, "the high job's chunks came by answer");
  // Low chunks whose messages were in the pool before the high job came run in the pool's order (priority-gate.ts
  // leaves them where they are). By answer, at most one: a claim ahead may have been in flight as the high job came.
  assert.ok(lowAnswered.length <= 1, `${lowAnswered.length} low chunks answered between the high job's chunks`);
  assert.equal((await coordinator.finisher.waitFor(low)).state, "done");
});

test("claimNext off: every chunk goes through a published work message, and the agent stops asking", async (t) => {
  const dir = tempDir(t, "ns-claim-next-off-");
  const coordinator = await startTestCoordinator(t, dir, { claimNext: false });
  const agent = await startLocalAgent(t, coordinator, dir, "solo");
  const [W, H, N, SIZE] = [32, 32, 8, 2];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("next-off", N, W, H, SIZE)), dir);
  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
  const chunks = coordinator.store.chunks.listByJob(jobId);
  assert.equal(agent.nextAnswered, 0);
  assert.equal(chunks.filter((c) => answered(c.dispatchId)).length, 0);
  assert.ok(coordinator.workMessagesPublished >= chunks.length);
});

test("an agent killed while it runs an answered chunk: the chunk is lost, runs again on the other agent, every chunk committed once", async (t) => {
  const dir = tempDir(t, "ns-claim-next-kill-");
  const coordinator = await startTestCoordinator(t, dir);
  // The victim starts alone: its chunks after the first two placed ones come by answer (the first test). With
  // the survivor running too, which agent's claims were answered was a matter of timing: a claim sent while a
  // chunk placed on the agent waited was answered none, and on a loaded machine the victim ran only placed
  // chunks for the whole job (a CI run timed out waiting for it). The survivor starts at the kill.
  const victim = await startAgentProcess(t, coordinator.address, "victim", dir);
  // Frames large enough that a chunk runs a while, so the kill lands mid-chunk.
  const [W, H, N] = [640, 360, 60];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("next-kill", N, W, H, 5)), dir);
  const store = coordinator.store;
  const victimRow = store.agents.list().find((x) => x.name === "victim");
  assert.ok(victimRow);
  const attempt = await waitUntil(() => store.attempts.runningForAgent(victimRow.id).find((a) => answered(store.chunks.get(a.chunkId)?.dispatchId ?? null)), 60_000, "the victim to run an answered chunk", 10);
  victim.kill("SIGKILL");
  await victim.exited;
  await startAgentProcess(t, coordinator.address, "survivor", dir);
  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
  const tries = store.attempts.listByChunk(attempt.chunkId);
  assert.equal(tries.find((a) => a.id === attempt.id)?.state, "lost");
  assert.ok(tries.some((a) => a.state === "committed" && a.agentId !== victimRow.id), "committed by the survivor");
});
