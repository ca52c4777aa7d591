/**
 * A claim for the next chunk takes its pending pick straight to running in
 * one UPDATE of the chunk (claim-service.ts take, `picked`), with the row a
 * queued-then-claimed chunk had; a pick it refuses stays pending, untouched.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ANSWERED_PREFIX, ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = () => ({ input: null, steps: [] });

/** A farm whose claims for the next chunk are answered with its first chunk; every chunk state change is recorded. */
function setup(t: TestContext) {
  const farm = seedFarm(t);
  const first = farm.chunks[0]!;
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, manualClock(50_000).now, testLog(), () => undefined, () => undefined, () => [first.id]);
  farm.store.db.exec(`
    CREATE TEMP TABLE state_changes (from_state TEXT, to_state TEXT);
    CREATE TEMP TRIGGER record_state_changes AFTER UPDATE OF state ON main.chunks BEGIN INSERT INTO state_changes VALUES (OLD.state, NEW.state); END;
  `);
  const changes = () => farm.store.db.prepare(`SELECT from_state || '>' || to_state AS change FROM state_changes`).all().map((r) => (r as { change: string }).change);
  return { ...farm, first, claims, changes };
}

test("a claim for the next chunk takes the pending pick to running in one update, placed on the agent under an answered dispatch id", async (t) => {
  const s = setup(t);
  const r = await s.claims.claimNextBatched(s.agent.id);
  assert.equal(r.skip, false);
  if (r.skip) return;
  assert.deepEqual(s.changes(), ["pending>running"], "one state change, not through queued");
  const row = s.store.chunks.get(s.first.id)!;
  assert.equal(row.state, "running");
  assert.equal(row.currentAttemptId, r.attemptId);
  assert.equal(row.attempts, 1);
  assert.equal(row.placedAgentId, s.agent.id);
  assert.ok(row.dispatchId?.startsWith(ANSWERED_PREFIX), `dispatch id ${row.dispatchId}`);
  assert.equal(s.store.attempts.get(r.attemptId)?.state, "running");
  assert.equal(s.store.jobs.get(s.job.id)?.state, "running");
});

for (const refusal of ["blocklisted", "job paused"] as const) {
  test(`a pick refused to the agent (${refusal}) stays pending and untouched`, async (t) => {
    const s = setup(t);
    if (refusal === "blocklisted") s.store.blocklist.recordFailure(s.job.id, s.agent.id, "boom", true, 40_000);
    else s.store.jobs.transition(s.job.id, "paused", 40_000);
    const before = s.store.chunks.get(s.first.id);
    assert.deepEqual(await s.claims.claimNextBatched(s.agent.id), { skip: true, reason: "none" });
    assert.deepEqual(s.changes(), [], "no state change");
    assert.deepEqual(s.store.chunks.get(s.first.id), before, "the row as it was");
  });
}

test("a pick already taken is passed over without reading the agent's row: one agent read for the pick claimed", async (t) => {
  const s = setup(t);
  const second = s.chunks[1]!;
  assert.equal((await s.claims.claimNextBatched(s.agent.id)).skip, false, "the first chunk is taken");
  const claims = new ClaimService(s.store, DEFAULT_FARM_POLICY, describeWork, manualClock(60_000).now, testLog(), () => undefined, () => undefined, () => [s.first.id, second.id]);
  let agentReads = 0;
  const get = s.store.agents.get.bind(s.store.agents);
  s.store.agents.get = (id: string) => (agentReads++, get(id));
  const r = await claims.claimNextBatched(s.agent.id);
  assert.equal(r.skip ? r.reason : r.work.chunkId, second.id, "the second pick is claimed");
  assert.equal(agentReads, 1, "the taken first pick cost no agent read");
});
