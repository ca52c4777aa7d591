import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ClaimService, type ClaimResult, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { TurnBatch } from "../../coordinator/dispatch/turn-batch.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { committedAttempts, countTransactions } from "../helpers/store-transactions.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = () => ({ input: null, steps: [] });

/** A farm of one job with four chunks and four agents, the store's top-level transactions counted. */
function setup(t: TestContext) {
  const farm = seedFarm(t, { chunks: [[0, 1], [2, 3], [4, 5], [6, 7]] });
  const agents = [farm.agent, insertAgent(farm.store), insertAgent(farm.store), insertAgent(farm.store)];
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, manualClock(50_000).now, testLog(), () => undefined);
  const commits = countTransactions(farm.store);
  // A second connection sees only what was committed.
  const committedAttempt = committedAttempts(t, farm.dbPath);
  return { ...farm, agents, claims, commits, committedAttempt };
}

test("claims asked for in one turn share one transaction, each gets its own chunk, answered only after the commit", async (t) => {
  const s = setup(t);
  const dispatchIds = s.chunks.map((c) => queueChunk(s.store, c.id));
  const before = s.commits();
  const seen: Array<unknown> = [];
  const results = await Promise.all(
    s.chunks.map((c, i) =>
      s.claims.claimBatched(s.agents[i]!.id, c.id, dispatchIds[i]!).then((r) => {
        // The answer comes after the commit: another connection already sees the attempt.
        if (!r.skip) seen.push(s.committedAttempt(r.attemptId));
        return r;
      }),
    ),
  );
  assert.equal(s.commits() - before, 1, "one transaction for the four claims");
  assert.deepEqual(s.claims.batch.stats, { batches: 1, writes: 4, shared: 0 });
  for (const [i, r] of results.entries()) {
    assert.equal(r.skip, false);
    if (r.skip) continue;
    assert.equal(r.work.chunkId, s.chunks[i]!.id);
    assert.deepEqual(seen[i], { chunkId: s.chunks[i]!.id, agentId: s.agents[i]!.id, state: "running" });
    const row = s.store.chunks.get(s.chunks[i]!.id)!;
    assert.equal(row.state, "running");
    assert.equal(row.currentAttemptId, r.attemptId);
  }
  assert.equal(new Set(results.map((r) => (r as { attemptId: string }).attemptId)).size, 4);
});

test("a refused claim and a claim that throws do not spoil the others of their batch", async (t) => {
  const s = setup(t);
  const dispatchIds = s.chunks.map((c) => queueChunk(s.store, c.id));
  const bad = s.agents[2]!.id;
  s.claims.ineligible = (agent) => {
    if (agent.id === bad) throw new Error("eligibility check broke");
    return null;
  };
  const before = s.commits();
  const settled = await Promise.allSettled([
    s.claims.claimBatched(s.agents[0]!.id, s.chunks[0]!.id, dispatchIds[0]!),
    s.claims.claimBatched(s.agents[1]!.id, s.chunks[1]!.id, "dsp_stale"),
    s.claims.claimBatched(bad, s.chunks[2]!.id, dispatchIds[2]!),
    s.claims.claimBatched(s.agents[3]!.id, s.chunks[3]!.id, dispatchIds[3]!),
    // The same message claimed twice in one batch: the second sees the first's write.
    s.claims.claimBatched(s.agents[1]!.id, s.chunks[0]!.id, dispatchIds[0]!),
  ]);
  assert.equal(s.commits() - before, 1);
  const value = (i: number): ClaimResult => {
    const r = settled[i]!;
    assert.equal(r.status, "fulfilled", `claim ${i} is answered`);
    return (r as PromiseFulfilledResult<ClaimResult>).value;
  };
  assert.equal(value(0).skip, false);
  assert.deepEqual(value(1), { skip: true, reason: "stale dispatch" });
  assert.equal(settled[2]!.status, "rejected");
  assert.match(String((settled[2] as PromiseRejectedResult).reason), /eligibility check broke/);
  assert.equal(value(3).skip, false);
  assert.deepEqual(value(4), { skip: true, reason: "chunk is running" });
  // The stale and the thrown claims left their chunks as they were; the others run, with one attempt each.
  assert.equal(s.store.chunks.get(s.chunks[1]!.id)!.state, "queued");
  assert.equal(s.store.chunks.get(s.chunks[2]!.id)!.state, "queued");
  assert.equal(s.store.attempts.listByChunk(s.chunks[2]!.id).length, 0);
  for (const i of [0, 3]) {
    assert.equal(s.store.chunks.get(s.chunks[i]!.id)!.state, "running");
    assert.equal(s.store.attempts.listByChunk(s.chunks[i]!.id).length, 1);
  }
});

test("claims in different turns commit separately; a claim alone is answered as claim() answers it", async (t) => {
  const s = setup(t);
  const dispatchIds = s.chunks.map((c) => queueChunk(s.store, c.id));
  const before = s.commits();
  const first = await s.claims.claimBatched(s.agents[0]!.id, s.chunks[0]!.id, dispatchIds[0]!);
  const second = await s.claims.claimBatched(s.agents[1]!.id, s.chunks[1]!.id, dispatchIds[1]!);
  assert.equal(s.commits() - before, 2);
  assert.equal(first.skip, false);
  assert.equal(second.skip, false);
  assert.deepEqual(await s.claims.claimBatched(s.agents[2]!.id, s.chunks[0]!.id, dispatchIds[0]!), s.claims.claim(s.agents[2]!.id, s.chunks[0]!.id, dispatchIds[0]!));
});

test("when the shared commit fails every write of the batch is rejected and none is kept", async (t) => {
  const s = setup(t);
  const batch = new TurnBatch(s.store);
  const tx = s.store.tx;
  // The outer transaction throws after its writes ran (as a failed COMMIT would): better-sqlite3 rolls it back.
  s.store.tx = <T>(fn: () => T): T =>
    s.store.db.inTransaction
      ? tx(fn)
      : tx(() => {
          fn();
          throw new Error("commit failed");
        });
  const settled = await Promise.allSettled([
    batch.run(() => s.store.chunks.transition(s.chunks[0]!.id, "queued", 2_000, { dispatchId: "dsp_a" })),
    batch.run(() => s.store.chunks.transition(s.chunks[1]!.id, "queued", 2_000, { dispatchId: "dsp_b" })),
  ]);
  assert.deepEqual(
    settled.map((r) => r.status),
    ["rejected", "rejected"],
  );
  assert.equal(s.store.chunks.get(s.chunks[0]!.id)!.state, "pending");
  assert.equal(s.store.chunks.get(s.chunks[1]!.id)!.state, "pending");
});
