// A claim refused with "agent not enrolled" (an agent removed after its work message was delivered, or one the
// store does not know), over the agent's claim stream (real grpc-js on loopback, the real gateway and a real
// store): the agent acks the message after a skip, so the chunk goes straight back to pending without a dispatch
// id, for the next pass to place, instead of staying queued until the placed take-back or a sweep.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { setupSink } from "../helpers/sink-fixture.ts";
import { insertAgent, queueChunk } from "../helpers/store-fixture.ts";

test("a claim refused on the claim stream because the agent is not enrolled sends its chunk back to pending; a fresh dispatch of it is claimed once by an enrolled agent", async (t) => {
  const s = setupSink(t, { chunks: [[0, 1], [2, 3], [4, 5]] });
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now);
  const [removedAsks, strangerAsks] = [s.chunks[1]!.id, s.chunks[2]!.id];
  const d1 = queueChunk(s.store, removedAsks);
  const d2 = queueChunk(s.store, strangerAsks);
  s.store.agents.transition(s.agent.id, "removed");

  for (const [agentId, chunkId, dispatchId] of [[s.agent.id, removedAsks, d1], ["agt_stranger", strangerAsks, d2]] as const) {
    const r = await g.client.claim(agentId, chunkId, dispatchId, 1);
    assert.deepEqual({ skip: r.skip, reason: r.reason }, { skip: true, reason: "agent not enrolled" });
    const row = s.store.chunks.get(chunkId);
    assert.deepEqual({ state: row?.state, dispatchId: row?.dispatchId }, { state: "pending", dispatchId: null }, `${chunkId} back to pending at once`);
  }
  assert.equal(g.client.claims.stats.streamed, 2, "both answered on the stream");

  const other = insertAgent(s.store, { id: "agt_other" });
  const again = await g.client.claim(other.id, removedAsks, queueChunk(s.store, removedAsks), 1);
  assert.equal(again.skip, false, again.reason);
  assert.equal(s.store.chunks.get(removedAsks)?.currentAttemptId, again.attemptId);
  assert.equal(s.store.attempts.listByChunk(removedAsks).length, 1);
});
