/**
 * Claims waiting for their turn's transaction go into the transaction of a
 * commit batch that starts in the same turn (result-sink.ts commitBatch,
 * TurnBatch#take): one BEGIN/COMMIT for both, each answered only after it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test, type TestContext } from "node:test";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { stagingDirFor } from "../../coordinator/sink/staging.ts";
import type { UploadHeader } from "../../coordinator/sink/result-sink.ts";
import { ACCOUNTING, framePath, randomFrame, setupSink } from "../helpers/sink-fixture.ts";
import { insertAgent, queueChunk } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { testLog } from "../helpers/test-log.ts";
import { committedAttempts, countTransactions } from "../helpers/store-transactions.ts";
import { settle } from "../helpers/eventually.ts";

/** A staged upload of chunk 0 (att_live), a second agent with chunk 1 queued for it, and the outer transactions counted. */
async function setup(t: TestContext) {
  let claims: ClaimService | undefined;
  const s = setupSink(t, { chunks: [[0, 1], [2, 3]], shareTransaction: () => claims?.batch.take() });
  claims = new ClaimService(s.store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), manualClock(60_000).now, testLog(), () => undefined);
  const other = insertAgent(s.store);
  const header: UploadHeader = { ...s.header, frameCount: 2 };
  const session = await s.sink.begin(header);
  const data = [randomFrame(0), randomFrame(1)];
  for (const f of data) await session.addFrame(f);
  const frames = new Map(data.map((f) => [f.index, { sha256: f.sha256, bytes: f.size }]));
  const queued = s.chunks[1]!;
  const dispatchId = queueChunk(s.store, queued.id);
  const transactions = countTransactions(s.store);
  // A second connection sees only what was committed.
  const committedAttempt = committedAttempts(t, s.dbPath);
  const commit = () => s.sink.commit(header, stagingDirFor(s.outputRoot, header.attemptId), frames, ACCOUNTING);
  return { s, claims, other, data, queued, dispatchId, commit, transactions, committedAttempt };
}

test("a claim waiting for its turn's transaction goes into the transaction of a commit batch started in that turn; both answered after its commit", async (t) => {
  const c = await setup(t);
  const claimed = c.claims.claimBatched(c.other.id, c.queued.id, c.dispatchId).then((r) => {
    assert.equal(r.skip, false);
    // Answered after the shared COMMIT: another connection already sees its attempt.
    return { r, seen: r.skip ? undefined : c.committedAttempt(r.attemptId) };
  });
  const committed = c.commit();
  assert.equal(c.transactions(), 1, "the commit batch ran one transaction, before commit() returned");
  assert.equal(c.claims.batch.stats.shared, 1, "the claim went into it");
  assert.equal(c.s.store.chunks.get(c.queued.id)?.state, "running");
  assert.equal(await committed, 2);
  const { seen } = await claimed;
  assert.deepEqual(seen, { chunkId: c.queued.id, agentId: c.other.id, state: "running" });
  for (const f of c.data) assert.deepEqual(readFileSync(framePath(c.s.job, f.index)), Buffer.from(f.data));
  assert.equal(c.s.store.chunks.get(c.s.chunk.id)?.state, "done");
  await settle();
  assert.equal(c.transactions(), 1, "the turn's own flush found nothing left");
  assert.deepEqual(c.claims.batch.stats, { batches: 1, writes: 1, shared: 1 });
});

test("a claim that throws inside the shared transaction is undone alone: the commit stands", async (t) => {
  const c = await setup(t);
  c.claims.ineligible = () => {
    throw new Error("eligibility check broke");
  };
  const claimed = c.claims.claimBatched(c.other.id, c.queued.id, c.dispatchId);
  const committed = c.commit();
  await assert.rejects(claimed, /eligibility check broke/);
  assert.equal(await committed, 2);
  assert.equal(c.s.store.attempts.get(c.s.header.attemptId)?.state, "committed");
  assert.equal(c.s.store.chunks.get(c.queued.id)?.state, "queued", "the claim's savepoint rolled back");
  assert.equal(c.transactions(), 1);
});
