import assert from "node:assert/strict";
import { test } from "node:test";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import type { AttemptToCancel } from "../../coordinator/nats/agent-control.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import { ACCOUNTING, randomFrame, setupSink } from "../helpers/sink-fixture.ts";
import { insertAgent } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = (job) => ({
  input: { type: "generated", width: 8, height: 8, frames: 10, seed: job.seed },
  steps: [{ id: "grade", kind: "model", model: "test-model", modelSha256: job.modelSha256, window: null }],
});

/** A sink test farm whose chunk 0 runs as "att_live" on the first agent, with a copy dispatched to a second agent. */
function setup(t: Parameters<typeof setupSink>[0]) {
  const s = setupSink(t);
  const other = insertAgent(s.store, { id: "agt_fast" });
  const changes: string[] = [];
  const claims = new ClaimService(s.store, DEFAULT_FARM_POLICY, describeWork, manualClock(80_000).now, testLog(), (j) => changes.push(j));
  const superseded: AttemptToCancel[] = [];
  s.sink.onSuperseded = (list) => superseded.push(...list);
  s.store.chunks.setAttempts(s.chunk.id, { specDispatchId: "dsp_copy", specAgentId: other.id });
  return { ...s, other, claims, superseded, changes };
}

async function upload(s: ReturnType<typeof setup>, attemptId: string, agentId: string): Promise<number> {
  const session = await s.sink.begin({ ...s.header, attemptId, agentId });
  for (let i = s.chunk.frameStart; i <= s.chunk.frameEnd; i++) await session.addFrame(randomFrame(i));
  return session.commit(ACCOUNTING);
}

test("a speculative dispatch may create a second live attempt, once, only on the agent it was placed on", (t) => {
  const s = setup(t);
  assert.deepEqual(s.claims.claim(s.other.id, s.chunk.id, "dsp_other"), { skip: true, reason: "chunk is running" }, "a non-copy message of a running chunk");
  assert.deepEqual(s.claims.claim(s.agent.id, s.chunk.id, "dsp_copy"), { skip: true, reason: "the copy was placed on another agent" });
  const copy = s.claims.claim(s.other.id, s.chunk.id, "dsp_copy");
  assert.equal(copy.skip, false);
  if (copy.skip) return;
  assert.equal(copy.work.frameStart, s.chunk.frameStart);
  const row = s.store.chunks.get(s.chunk.id)!;
  assert.deepEqual([row.state, row.currentAttemptId, row.specAttemptId], ["running", "att_live", copy.attemptId]);
  assert.deepEqual(s.store.attempts.listByChunk(s.chunk.id).map((a) => [a.agentId, a.state]), [[s.agent.id, "running"], [s.other.id, "running"]]);
  assert.deepEqual(s.claims.claim(s.other.id, s.chunk.id, "dsp_copy"), { skip: true, reason: "the copy was claimed already" }, "a redelivered copy message");
});

test("the copy commits first: it wins, the first attempt is superseded, its agent is told, and its upload is refused", async (t) => {
  const s = setup(t);
  const copy = s.claims.claim(s.other.id, s.chunk.id, "dsp_copy");
  assert.equal(copy.skip, false);
  if (copy.skip) return;
  const before = await s.sink.begin(s.header); // the slow agent's upload had already begun
  assert.equal(await upload(s, copy.attemptId, s.other.id), 3);
  const row = s.store.chunks.get(s.chunk.id)!;
  assert.deepEqual([row.state, row.currentAttemptId, row.specAttemptId, row.specDispatchId], ["done", copy.attemptId, null, null]);
  assert.equal(s.store.attempts.get("att_live")?.state, "superseded");
  assert.deepEqual(s.superseded, [{ agentId: s.agent.id, attemptId: "att_live", reason: "superseded: the other copy of this chunk committed first" }]);
  assert.deepEqual(new Set(s.store.frames.listByJob(s.job.id).map((f) => f.attemptId)), new Set([copy.attemptId]), "every frame from the winner");
  await assert.rejects(() => s.sink.begin(s.header), (e: unknown) => e instanceof UploadRefusedError && e.reason === "stale-attempt" && /superseded/.test(e.message));
  for (let i = s.chunk.frameStart; i <= s.chunk.frameEnd; i++) await before.addFrame(randomFrame(i));
  await assert.rejects(() => before.commit(ACCOUNTING), (e: unknown) => e instanceof UploadRefusedError && e.reason === "stale-attempt", "the loser's upload in flight is refused at commit");
  assert.equal(s.store.ledger.listByJob(s.job.id).length, 1, "one ledger row: the loser's work is discarded");
});

test("the first attempt commits first: the copy is superseded; a copy that fails or is lost leaves the first attempt running", async (t) => {
  const s = setup(t);
  const copy = s.claims.claim(s.other.id, s.chunk.id, "dsp_copy");
  if (copy.skip) return assert.fail("copy claim skipped");
  assert.equal(s.claims.reportFailure(s.other.id, copy.attemptId, "out of memory", false), "ignored");
  let row = s.store.chunks.get(s.chunk.id)!;
  assert.deepEqual([row.state, row.currentAttemptId, row.specAttemptId, row.specDispatchId], ["running", "att_live", null, null], "the copy is dropped");
  assert.equal(s.store.attempts.get(copy.attemptId)?.state, "failed");

  // A second copy, then the first attempt commits: the copy loses.
  s.store.chunks.setAttempts(s.chunk.id, { specDispatchId: "dsp_copy2", specAgentId: s.other.id });
  const copy2 = s.claims.claim(s.other.id, s.chunk.id, "dsp_copy2");
  if (copy2.skip) return assert.fail("second copy claim skipped");
  assert.equal(await upload(s, "att_live", s.agent.id), 3);
  assert.equal(s.store.attempts.get(copy2.attemptId)?.state, "superseded");
  assert.deepEqual(s.superseded.map((x) => x.attemptId), [copy2.attemptId]);
  row = s.store.chunks.get(s.chunk.id)!;
  assert.deepEqual([row.state, row.currentAttemptId], ["done", "att_live"]);
});

test("the first attempt fails or its agent is lost while a copy runs: the copy becomes the chunk's attempt", (t) => {
  const s = setup(t);
  const copy = s.claims.claim(s.other.id, s.chunk.id, "dsp_copy");
  if (copy.skip) return assert.fail("copy claim skipped");
  assert.equal(s.claims.loseAgentAttempts(s.agent.id, "agent went silent"), 1);
  const row = s.store.chunks.get(s.chunk.id)!;
  assert.deepEqual([row.state, row.currentAttemptId, row.specAttemptId], ["running", copy.attemptId, null]);
  assert.equal(s.store.attempts.get("att_live")?.state, "lost");
});

test("an agent that goes offline gives back the chunks placed on its own subject", (t) => {
  const s = setup(t);
  const c1 = s.store.chunks.listByJob(s.job.id)[1]!;
  s.store.chunks.transition(c1.id, "queued", 1, { dispatchId: "dsp_placed", placedAgentId: s.other.id });
  assert.equal(s.store.chunks.get(c1.id)?.placedAgentId, s.other.id);
  s.claims.loseAgentAttempts(s.other.id, "agent went silent");
  assert.deepEqual([s.store.chunks.get(c1.id)?.state, s.store.chunks.get(c1.id)?.dispatchId], ["pending", null]);
  assert.deepEqual(s.changes, [s.job.id]);
});
