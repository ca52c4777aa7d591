import { test } from "node:test";
import assert from "node:assert/strict";
import { runningAttempts } from "../../coordinator/scheduling/snapshot-queries.ts";
import { claimCopy } from "../../coordinator/scheduling/copy-rules.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";

test("running attempts read for a pass carry their chunk's size, copy flags and heartbeat progress as the rows say", (t) => {
  const { store, job, chunks, agent } = seedFarm(t, { chunks: [[0, 4], [5, 6], [7, 9], [10, 10]] });
  const other = insertAgent(store, { id: "agt_other" });
  const run = (chunkId: string, attemptId: string, createdAt: number): void => {
    queueChunk(store, chunkId);
    store.attempts.insert({ id: attemptId, chunkId, jobId: job.id, agentId: agent.id, createdAt });
    store.chunks.transition(chunkId, "running", createdAt, { currentAttemptId: attemptId, countAttempt: true });
  };
  run(chunks[0]!.id, "att_plain", 1_100);
  run(chunks[1]!.id, "att_copy_sent", 1_200);
  store.chunks.setAttempts(chunks[1]!.id, { specDispatchId: "dsp_copy1", specAgentId: other.id });
  run(chunks[2]!.id, "att_first", 1_300);
  store.chunks.setAttempts(chunks[2]!.id, { specDispatchId: "dsp_copy2", specAgentId: other.id });
  const copy = claimCopy(store, store.chunks.get(chunks[2]!.id)!, other.id, 1_400);
  assert.ok("attemptId" in copy);
  // A finished attempt is not running: not read.
  run(chunks[3]!.id, "att_done", 1_500);
  store.attempts.finish("att_done", "failed", 1_600, "boom");

  const progress = new Map([["att_first", { framesDone: 2, elapsedMs: 900, sentAtMs: 5_000 }]]);
  const byId = new Map(runningAttempts(store, progress).map((r) => [r.attemptId, r]));
  assert.deepEqual([...byId.keys()].sort(), ["att_copy_sent", "att_first", "att_plain", copy.attemptId].sort());
  const base = { jobId: job.id, agentId: agent.id, framesDone: null, elapsedMs: null, reportedAtMs: null };
  assert.deepEqual(byId.get("att_plain"), { ...base, attemptId: "att_plain", chunkId: chunks[0]!.id, frames: 5, startedAtMs: 1_100, speculative: false, hasCopy: false });
  assert.deepEqual(byId.get("att_copy_sent"), { ...base, attemptId: "att_copy_sent", chunkId: chunks[1]!.id, frames: 2, startedAtMs: 1_200, speculative: false, hasCopy: true });
  assert.deepEqual(byId.get("att_first"), {
    ...base,
    attemptId: "att_first",
    chunkId: chunks[2]!.id,
    frames: 3,
    startedAtMs: 1_300,
    framesDone: 2,
    elapsedMs: 900,
    reportedAtMs: 5_000,
    speculative: false,
    hasCopy: true,
  });
  assert.deepEqual(byId.get(copy.attemptId), { ...base, agentId: other.id, attemptId: copy.attemptId, chunkId: chunks[2]!.id, frames: 3, startedAtMs: 1_400, speculative: true, hasCopy: true });
});
