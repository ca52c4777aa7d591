/**
 * An agent pulls its own subject and the pool at once, so a chunk placed on it and a pool message can reach it
 * together, the pool's first (the soak: a lost chunk waited 4.5 s behind such a pool chunk). Its claim of the pool
 * chunk is refused while the placed chunk waits there, once per placement (coordinator/dispatch/placed-first.ts);
 * the pool chunk goes back to pending for a new message.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ClaimService, type ClaimResult } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

function setup(t: TestContext) {
  const farm = seedFarm(t, { chunks: [[0, 4], [5, 9], [10, 14]] });
  const changed: Array<{ jobId: string; jobMayEnd: boolean | undefined }> = [];
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), manualClock(50_000).now, testLog(), (jobId, jobMayEnd) => void changed.push({ jobId, jobMayEnd }));
  const [pool, placed, other] = farm.chunks.map((c) => c.id) as [string, string, string];
  /** Queues a chunk on `agentId`'s own subject, as lost work placed first is. */
  const place = (chunkId: string, agentId: string): string => {
    const dispatchId = `dsp-placed-${chunkId}-${agentId}`;
    farm.store.chunks.transition(chunkId, "queued", 1_000, { dispatchId, placedAgentId: agentId });
    return dispatchId;
  };
  return { ...farm, claims, changed, pool, placed, other, place };
}

const reasonOf = (r: ClaimResult): string => (r.skip ? r.reason : `claimed ${r.attemptId}`);

test("a pool chunk's claim is refused once while a chunk placed on the claiming agent waits; the pool chunk goes back to pending and the placed one is claimed", (t) => {
  const s = setup(t);
  const poolDispatch = queueChunk(s.store, s.pool);
  const placedDispatch = s.place(s.placed, s.agent.id);

  const refused = s.claims.claim(s.agent.id, s.pool, poolDispatch);
  assert.match(reasonOf(refused), new RegExp(`work placed on this agent waits \\(${s.placed}\\)`));
  assert.equal(refused.skip && refused.handedBack, true, "the pool chunk was handed back: a dispatch pass is asked for");
  const back = s.store.chunks.get(s.pool)!;
  assert.deepEqual({ state: back.state, dispatchId: back.dispatchId }, { state: "pending", dispatchId: null });
  assert.deepEqual(s.changed, [{ jobId: s.job.id, jobMayEnd: false }]);
  assert.equal(s.store.attempts.listByChunk(s.pool).length, 0, "no attempt made");
  assert.match(reasonOf(s.claims.claim(s.agent.id, s.pool, poolDispatch)), /chunk is pending/, "the message the agent held is stale now");

  // Sent out again: the same placement does not refuse it twice.
  const again = queueChunk(s.store, s.pool);
  assert.equal(s.claims.claim(s.agent.id, s.pool, again).skip, false, "claimed: one refusal per placement");
  assert.equal(s.claims.claim(s.agent.id, s.placed, placedDispatch).skip, false, "the placed chunk is claimed");
});

test("only the agent the chunk waits on is refused, and a chunk placed on it is not itself refused", (t) => {
  const s = setup(t);
  const other = insertAgent(s.store, { id: "agt-other" });
  const placedDispatch = s.place(s.placed, s.agent.id);
  assert.equal(s.claims.claim(other.id, s.pool, queueChunk(s.store, s.pool)).skip, false, "an agent with nothing placed on it claims the pool chunk");
  assert.equal(s.claims.claim(s.agent.id, s.placed, placedDispatch).skip, false, "the placed chunk itself");
  // Nothing waits on the agent any more: its pool claims go ahead.
  assert.equal(s.claims.claim(s.agent.id, s.other, queueChunk(s.store, s.other)).skip, false);
});

test("a new placement on the agent refuses one more pool claim", (t) => {
  const s = setup(t);
  s.place(s.placed, s.agent.id);
  assert.equal(s.claims.claim(s.agent.id, s.pool, queueChunk(s.store, s.pool)).skip, true);
  assert.equal(s.claims.claim(s.agent.id, s.pool, queueChunk(s.store, s.pool)).skip, false);
  // The placed chunk taken back and placed on the agent again (a new dispatch): one more refusal.
  s.store.chunks.transition(s.placed, "pending", 2_000, { dispatchId: null });
  s.store.chunks.transition(s.placed, "queued", 2_000, { dispatchId: "dsp-placed-again", placedAgentId: s.agent.id });
  assert.match(reasonOf(s.claims.claim(s.agent.id, s.other, queueChunk(s.store, s.other))), /work placed on this agent waits/);
});
