import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY, type FarmPolicy } from "../../coordinator/dispatch/farm-policy.ts";
import type { Store } from "../../coordinator/store/store.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = (job) => ({
  input: { type: "generated", width: 8, height: 8, frames: job.frameEnd - job.frameStart + 1, seed: job.seed },
  steps: [{ id: "grade", kind: "model", model: "test-model", modelSha256: job.modelSha256, window: null }],
});

function setup(t: TestContext, policy: Partial<FarmPolicy> = {}, chunks?: ReadonlyArray<readonly [number, number]>) {
  const farm = seedFarm(t, chunks ? { chunks } : {});
  const clock = manualClock(50_000);
  const changes: string[] = [];
  const claims = new ClaimService(farm.store, { ...DEFAULT_FARM_POLICY, ...policy }, describeWork, clock.now, testLog(), (jobId) => changes.push(jobId));
  return { ...farm, clock, claims, changes };
}

/** Queues a pending chunk with a fresh dispatch id and claims it for `agentId`; returns the attempt id. */
function queueAndClaim(store: Store, claims: ClaimService, agentId: string, chunkId: string): string {
  const dispatchId = queueChunk(store, chunkId);
  const r = claims.claim(agentId, chunkId, dispatchId);
  assert.equal(r.skip, false, `claim of ${chunkId} by ${agentId} succeeds`);
  return (r as { attemptId: string }).attemptId;
}

test("claiming a queued chunk with its dispatch id creates exactly one running attempt and starts the job", (t) => {
  const { store, claims, clock, job, chunks, agent } = setup(t, { ackWaitSeconds: 17 });
  const chunk = chunks[1]!;
  const dispatchId = queueChunk(store, chunk.id, "dsp_one");
  clock.advance(10);
  const r = claims.claim(agent.id, chunk.id, dispatchId);
  assert.equal(r.skip, false);
  if (r.skip) return;

  const attempts = store.attempts.listByChunk(chunk.id);
  assert.equal(attempts.length, 1);
  assert.deepEqual(
    { id: attempts[0]!.id, state: attempts[0]!.state, agentId: attempts[0]!.agentId, jobId: attempts[0]!.jobId, createdAt: attempts[0]!.createdAt },
    { id: r.attemptId, state: "running", agentId: agent.id, jobId: job.id, createdAt: 50_010 },
  );
  const row = store.chunks.get(chunk.id)!;
  assert.equal(row.state, "running");
  assert.equal(row.currentAttemptId, r.attemptId);
  assert.equal(row.attempts, 1);
  const jobRow = store.jobs.get(job.id)!;
  assert.equal(jobRow.state, "running");
  assert.equal(jobRow.startedAt, 50_010);

  assert.deepEqual(r.work, {
    jobId: job.id,
    chunkId: chunk.id,
    attemptId: r.attemptId,
    frameStart: 5,
    frameEnd: 9,
    contextStart: 5,
    contextEnd: 9,
    seed: job.seed,
    input: { type: "generated", width: 8, height: 8, frames: 10, seed: job.seed },
    steps: [{ id: "grade", kind: "model", model: "test-model", modelSha256: job.modelSha256, window: null }],
    ackWaitSeconds: 17,
  });

  // A redelivery of the same message (same dispatch id) does not create a second attempt.
  const again = claims.claim(agent.id, chunk.id, dispatchId);
  assert.deepEqual(again, { skip: true, reason: "chunk is running" });
  assert.equal(store.attempts.listByChunk(chunk.id).length, 1);
});

test("a claim with a stale dispatch id is skipped and changes nothing", (t) => {
  const { store, claims, chunks, agent, job } = setup(t);
  queueChunk(store, chunks[0]!.id, "dsp_current");
  assert.deepEqual(claims.claim(agent.id, chunks[0]!.id, "dsp_old"), { skip: true, reason: "stale dispatch" });
  assert.equal(store.chunks.get(chunks[0]!.id)?.state, "queued");
  assert.equal(store.chunks.get(chunks[0]!.id)?.dispatchId, "dsp_current");
  assert.equal(store.attempts.listByChunk(chunks[0]!.id).length, 0);
  assert.equal(store.jobs.get(job.id)?.state, "queued");
});

test("a claim of a done chunk or an unknown chunk is skipped", (t) => {
  const { store, claims, chunks, agent } = setup(t);
  const attemptId = queueAndClaim(store, claims, agent.id, chunks[0]!.id);
  store.attempts.finish(attemptId, "committed", 60_000);
  store.chunks.transition(chunks[0]!.id, "done", 60_000);
  assert.deepEqual(claims.claim(agent.id, chunks[0]!.id, "dsp_any"), { skip: true, reason: "chunk is done" });
  assert.deepEqual(claims.claim(agent.id, "chunk_nope", "dsp_any"), { skip: true, reason: "unknown chunk" });
  assert.equal(store.attempts.listByChunk(chunks[0]!.id).length, 1);
});

test("a claim for a paused job puts the chunk back to pending; for a cancelled job cancels it", (t) => {
  const { store, claims, chunks, agent, job } = setup(t);
  const d0 = queueChunk(store, chunks[0]!.id);
  const d1 = queueChunk(store, chunks[1]!.id);
  store.jobs.transition(job.id, "paused", 2_000);
  assert.deepEqual(claims.claim(agent.id, chunks[0]!.id, d0), { skip: true, reason: "job is paused" });
  const row = store.chunks.get(chunks[0]!.id)!;
  assert.equal(row.state, "pending");
  assert.equal(row.dispatchId, null);
  assert.equal(store.attempts.listByChunk(chunks[0]!.id).length, 0);
  assert.equal(store.jobs.get(job.id)?.state, "paused", "the job stays paused");

  store.jobs.transition(job.id, "cancelled", 3_000);
  assert.deepEqual(claims.claim(agent.id, chunks[1]!.id, d1), { skip: true, reason: "job is cancelled" });
  assert.equal(store.chunks.get(chunks[1]!.id)?.state, "cancelled");
  assert.equal(store.attempts.listByChunk(chunks[1]!.id).length, 0);
});

test("a removed or unknown agent cannot claim: the chunk goes straight back to pending (the agent acks the message), and the dispatcher hears it", (t) => {
  const { store, claims, chunks, agent, job, changes } = setup(t);
  const [removedAsks, strangerAsks] = [chunks[0]!.id, chunks[1]!.id];
  const d0 = queueChunk(store, removedAsks);
  const d1 = queueChunk(store, strangerAsks);
  store.agents.transition(agent.id, "removed");
  assert.deepEqual(claims.claim(agent.id, removedAsks, d0), { skip: true, reason: "agent not enrolled", handedBack: true });
  assert.deepEqual(claims.claim("agt_stranger", strangerAsks, d1), { skip: true, reason: "agent not enrolled", handedBack: true });
  for (const id of [removedAsks, strangerAsks]) {
    assert.deepEqual({ state: store.chunks.get(id)?.state, dispatchId: store.chunks.get(id)?.dispatchId }, { state: "pending", dispatchId: null }, "not left queued for a sweep");
    assert.equal(store.attempts.listByChunk(id).length, 0);
  }
  assert.deepEqual(changes, [job.id, job.id], "a dispatch pass asked for each");
});

test("a speculative copy's claim by an agent not enrolled clears the copy's dispatch, so that another copy may be placed", (t) => {
  const { store, claims, chunks, agent } = setup(t);
  queueAndClaim(store, claims, agent.id, chunks[0]!.id);
  store.chunks.setAttempts(chunks[0]!.id, { specDispatchId: "dsp_copy", specAgentId: "agt_stranger" });
  assert.deepEqual(claims.claim("agt_stranger", chunks[0]!.id, "dsp_copy"), { skip: true, reason: "agent not enrolled", handedBack: true });
  const row = store.chunks.get(chunks[0]!.id)!;
  assert.deepEqual({ state: row.state, specDispatchId: row.specDispatchId, specAgentId: row.specAgentId }, { state: "running", specDispatchId: null, specAgentId: null });
  assert.equal(store.attempts.listByChunk(chunks[0]!.id).length, 1, "the first attempt alone");
});

test("a speculative copy refused to a blocklisted agent (copy not wanted) clears the copy's dispatch and asks for a pass", (t) => {
  const { store, claims, chunks, agent, job, changes } = setup(t);
  queueAndClaim(store, claims, agent.id, chunks[0]!.id);
  const other = insertAgent(store, { id: "agt_other" });
  store.blocklist.recordFailure(job.id, other.id, "boom", true, 40_000);
  store.chunks.setAttempts(chunks[0]!.id, { specDispatchId: "dsp_copy", specAgentId: other.id });
  changes.length = 0;
  assert.deepEqual(claims.claim(other.id, chunks[0]!.id, "dsp_copy"), { skip: true, reason: "copy not wanted", handedBack: true });
  const row = store.chunks.get(chunks[0]!.id)!;
  assert.deepEqual({ state: row.state, specDispatchId: row.specDispatchId, specAgentId: row.specAgentId }, { state: "running", specDispatchId: null, specAgentId: null }, "not left placed on the refused agent");
  assert.equal(store.attempts.listByChunk(chunks[0]!.id).length, 1, "the first attempt alone");
  assert.deepEqual(changes, [job.id], "a dispatch pass asked for, so the copy may go elsewhere");
});

test("failures retry the chunk until maxAgentsPerChunk distinct agents have failed it", (t) => {
  const { store, claims, chunks, agent, job, changes } = setup(t, { maxAgentsPerChunk: 2, maxFailuresPerChunk: 10 });
  const other = insertAgent(store, { id: "agt_other" });
  const c = chunks[0]!.id;

  const a1 = queueAndClaim(store, claims, agent.id, c);
  assert.equal(claims.reportFailure(agent.id, a1, "CUDA out of memory", false), "retry");
  let row = store.chunks.get(c)!;
  assert.deepEqual([row.state, row.failures, row.error, row.currentAttemptId, row.dispatchId], ["pending", 1, "CUDA out of memory", null, null]);
  assert.equal(store.attempts.get(a1)?.state, "failed");
  assert.equal(store.attempts.get(a1)?.error, "CUDA out of memory");
  assert.deepEqual(changes, [job.id]);

  // The same agent failing again is still one distinct agent: retry.
  const a2 = queueAndClaim(store, claims, agent.id, c);
  assert.equal(claims.reportFailure(agent.id, a2, "CUDA out of memory again", false), "retry");
  row = store.chunks.get(c)!;
  assert.deepEqual([row.state, row.failures], ["pending", 2]);

  // A second distinct agent fails: poison chunk.
  const a3 = queueAndClaim(store, claims, other.id, c);
  assert.equal(claims.reportFailure(other.id, a3, "bad pixel format", false), "failed");
  row = store.chunks.get(c)!;
  assert.equal(row.state, "failed");
  assert.equal(row.failures, 3);
  assert.equal(row.currentAttemptId, null);
  assert.match(row.error ?? "", /failed on 2 agent\(s\), 3 time\(s\); last error: bad pixel format/);
  assert.equal(row.attempts, 3);
  assert.equal(changes.length, 3);
});

test("maxFailuresPerChunk fails a chunk even on a single agent", (t) => {
  const { store, claims, chunks, agent } = setup(t, { maxAgentsPerChunk: 5, maxFailuresPerChunk: 2 });
  const c = chunks[0]!.id;
  assert.equal(claims.reportFailure(agent.id, queueAndClaim(store, claims, agent.id, c), "e1", false), "retry");
  assert.equal(claims.reportFailure(agent.id, queueAndClaim(store, claims, agent.id, c), "e2", false), "failed");
  assert.equal(store.chunks.get(c)?.state, "failed");
  assert.match(store.chunks.get(c)?.error ?? "", /last error: e2$/);
});

test("a handed-back attempt requeues the chunk and does not count as a failure", (t) => {
  const { store, claims, chunks, agent } = setup(t, { maxAgentsPerChunk: 1, maxFailuresPerChunk: 1 });
  const other = insertAgent(store, { id: "agt_other" });
  const c = chunks[0]!.id;
  const a1 = queueAndClaim(store, claims, agent.id, c);
  assert.equal(claims.reportFailure(agent.id, a1, "agent draining", true), "retry");
  const a2 = queueAndClaim(store, claims, other.id, c);
  assert.equal(claims.reportFailure(other.id, a2, "agent draining", true), "retry");
  const row = store.chunks.get(c)!;
  assert.deepEqual([row.state, row.failures, row.error, row.dispatchId, row.currentAttemptId], ["pending", 0, null, null, null]);
  assert.equal(store.attempts.get(a1)?.state, "handed-back");
  assert.equal(store.attempts.get(a2)?.state, "handed-back");
  assert.deepEqual(store.attempts.failedAgentsForChunk(c), []);
  // With a limit of one failure, a real failure now fails it: the hand-backs were not counted.
  const a3 = queueAndClaim(store, claims, agent.id, c);
  assert.equal(claims.reportFailure(agent.id, a3, "boom", false), "failed");
});

test("a second failure report for the same attempt, or one from another agent, is ignored", (t) => {
  const { store, claims, chunks, agent } = setup(t, { maxAgentsPerChunk: 3, maxFailuresPerChunk: 3 });
  const other = insertAgent(store, { id: "agt_other" });
  const c = chunks[0]!.id;
  const a1 = queueAndClaim(store, claims, agent.id, c);
  assert.equal(claims.reportFailure(other.id, a1, "not mine", false), "ignored");
  assert.equal(store.attempts.get(a1)?.state, "running", "a report from the wrong agent changes nothing");
  assert.equal(store.chunks.get(c)?.state, "running");

  assert.equal(claims.reportFailure(agent.id, a1, "first", false), "retry");
  assert.equal(claims.reportFailure(agent.id, a1, "second", false), "ignored");
  assert.equal(claims.reportFailure(agent.id, "att_unknown", "x", false), "ignored");
  const row = store.chunks.get(c)!;
  assert.equal(row.failures, 1);
  assert.equal(row.error, "first");
  assert.equal(store.attempts.get(a1)?.error, "first");
});

test("a failure report that arrives late, after its attempt was lost and the chunk claimed again, changes nothing", (t) => {
  // The agent's report was retried after a coordinator restart (agent/work/failure-report-retry.ts), but the
  // restarted coordinator had already found the attempt abandoned and requeued the chunk.
  const { store, claims, chunks, agent } = setup(t, { maxAgentsPerChunk: 1, maxFailuresPerChunk: 1 });
  const other = insertAgent(store, { id: "agt_other" });
  const c = chunks[0]!.id;
  const a1 = queueAndClaim(store, claims, agent.id, c);
  assert.equal(claims.loseAttempt(a1, "not named by its agent since the restart"), 1);
  const a2 = queueAndClaim(store, claims, other.id, c);
  assert.equal(claims.reportFailure(agent.id, a1, "14 UNAVAILABLE: Connection dropped", true), "ignored");
  assert.equal(claims.reportFailure(agent.id, a1, "boom", false), "ignored", "nor as a failure: it would have failed the chunk at a limit of 1");
  const row = store.chunks.get(c)!;
  assert.deepEqual([row.state, row.currentAttemptId, row.failures], ["running", a2, 0]);
  assert.equal(store.attempts.get(a1)?.state, "lost");
  assert.equal(store.attempts.get(a2)?.state, "running");
});

test("loseAgentAttempts marks a silent agent's running attempts lost and requeues their chunks", (t) => {
  const { store, claims, chunks, agent, job, changes } = setup(t, {}, [[0, 1], [2, 3], [4, 5]]);
  const other = insertAgent(store, { id: "agt_other" });
  const a0 = queueAndClaim(store, claims, agent.id, chunks[0]!.id);
  const a1 = queueAndClaim(store, claims, agent.id, chunks[1]!.id);
  const b2 = queueAndClaim(store, claims, other.id, chunks[2]!.id);
  changes.length = 0;

  assert.equal(claims.loseAgentAttempts(agent.id, "heartbeat timeout"), 2);
  for (const [att, chunk] of [[a0, chunks[0]!], [a1, chunks[1]!]] as const) {
    const a = store.attempts.get(att)!;
    assert.equal(a.state, "lost");
    assert.equal(a.error, "heartbeat timeout");
    const row = store.chunks.get(chunk.id)!;
    assert.deepEqual([row.state, row.currentAttemptId, row.dispatchId, row.failures], ["pending", null, null, 0]);
  }
  assert.equal(store.attempts.get(b2)?.state, "running", "another agent's attempt is untouched");
  assert.equal(store.chunks.get(chunks[2]!.id)?.state, "running");
  assert.deepEqual(changes, [job.id]);
  // Nothing left to lose the second time.
  assert.equal(claims.loseAgentAttempts(agent.id, "heartbeat timeout"), 0);
  // A late failure report from the lost attempt is ignored.
  assert.equal(claims.reportFailure(agent.id, a0, "late", false), "ignored");
  assert.equal(store.chunks.get(chunks[0]!.id)?.failures, 0);
});

test("loseAttempt loses just that running attempt and requeues its chunk", (t) => {
  const { store, claims, chunks, agent } = setup(t);
  const a0 = queueAndClaim(store, claims, agent.id, chunks[0]!.id);
  const a1 = queueAndClaim(store, claims, agent.id, chunks[1]!.id);
  assert.equal(claims.loseAttempt(a0, "no longer in heartbeats"), 1);
  assert.equal(store.attempts.get(a0)?.state, "lost");
  assert.equal(store.chunks.get(chunks[0]!.id)?.state, "pending");
  assert.equal(store.attempts.get(a1)?.state, "running");
  assert.equal(store.chunks.get(chunks[1]!.id)?.state, "running");
  assert.equal(claims.loseAttempt(a0, "again"), 0, "an attempt that is not running is left alone");
  assert.equal(store.attempts.get(a0)?.error, "no longer in heartbeats");
});

test("a chunk handed back by its agent is placed first like lost work; a failed one is not", (t) => {
  const farm = seedFarm(t, { chunks: [[0, 1], [2, 3]] });
  const first: string[] = [];
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, manualClock(50_000).now, testLog(), () => undefined, (chunkId) => first.push(chunkId));
  const [c0, c1] = [farm.chunks[0]!.id, farm.chunks[1]!.id];
  const a0 = queueAndClaim(farm.store, claims, farm.agent.id, c0);
  const a1 = queueAndClaim(farm.store, claims, farm.agent.id, c1);
  assert.equal(claims.reportFailure(farm.agent.id, a1, "executor crashed", false), "retry");
  assert.deepEqual(first, [], "a failure is retried in its turn");
  assert.equal(claims.reportFailure(farm.agent.id, a0, "agent stopping", true), "retry");
  assert.deepEqual(first, [c0]);
  assert.equal(claims.reportFailure(farm.agent.id, a0, "agent stopping", true), "ignored");
  assert.deepEqual(first, [c0], "a repeated report places nothing again");
});
