import assert from "node:assert/strict";
import { test } from "node:test";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { claimChanges } from "../../coordinator/dispatch/claim-changes.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { JobFinisher } from "../../coordinator/jobs/job-finisher.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import type { ChunkRow } from "../../coordinator/store/chunks-table.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

/**
 * A claim refused to its agent (blocklisted, ineligible, not enrolled) sends the chunk from queued back to pending: the job's
 * open chunks are unchanged, so the coordinator runs a dispatch pass for it but no finisher check (which reads
 * the job's counts). The claim service and the coordinator's hook (claim-changes.ts), as the coordinator wires them.
 */
test("a claim refused for an agent reason kicks the dispatcher without a finisher read; a failure still checks the job", (t) => {
  const farm = seedFarm(t, { job: { state: "running" } });
  farm.store.db.prepare(`UPDATE jobs SET spec_json = ? WHERE id = ?`).run(JSON.stringify({ steps: [] }), farm.job.id);
  const clock = manualClock(50_000);
  const finisher = new JobFinisher(farm.store, new JobSpecs(), clock.now, testLog());
  const reads = { n: 0 };
  const read = farm.store.jobs.stateWithCounts.bind(farm.store.jobs);
  farm.store.jobs.stateWithCounts = (id: string) => (reads.n++, read(id));
  const kicks = { n: 0 };
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), clock.now, testLog(), claimChanges(finisher, { kick: () => void kicks.n++ }));
  const [first, second] = farm.chunks as [ChunkRow, ChunkRow];

  claims.ineligible = () => "lacks the tag gpu";
  const refused = claims.claim(farm.agent.id, first.id, queueChunk(farm.store, first.id));
  assert.deepEqual(refused, { skip: true, reason: "agent lacks the tag gpu", handedBack: true });
  assert.equal(farm.store.chunks.get(first.id)?.state, "pending", "the refused chunk is back to pending");
  assert.equal(kicks.n, 1, "a dispatch pass is asked for");
  assert.equal(reads.n, 0, "the finisher did not read the job's counts");

  // Not enrolled (an agent the store does not know, or one removed): also back to pending, a pass, no finisher read.
  claims.ineligible = () => null;
  assert.deepEqual(claims.claim("agt_stranger", second.id, queueChunk(farm.store, second.id)), { skip: true, reason: "agent not enrolled", handedBack: true });
  assert.deepEqual({ state: farm.store.chunks.get(second.id)?.state, dispatchId: farm.store.chunks.get(second.id)?.dispatchId }, { state: "pending", dispatchId: null });
  assert.deepEqual({ kicks: kicks.n, reads: reads.n }, { kicks: 2, reads: 0 });

  // A failure can end the job (a chunk failed for good): it still runs the finisher's check.
  const taken = claims.claim(farm.agent.id, second.id, queueChunk(farm.store, second.id));
  assert.equal(taken.skip, false);
  if (taken.skip) return;
  claims.reportFailure(farm.agent.id, taken.attemptId, "boom", false);
  assert.equal(reads.n, 1, "a failure reads the job's counts");
  assert.equal(kicks.n, 3);
});
