/**
 * Why this file exists: after a coordinator restart the pool is held until the lost work is placed and the
 * attempts running at the restart are named again or ended (lost-work-first.ts holdsPool, bounded by
 * restartHoldMs). An agent never heard by the new process (killed or cut off while the coordinator was down)
 * can name nothing: these tests pin that it is waited for only while the agents are being heard (settleMs from
 * the first one heard), not to the bound, and still is within that window.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LostWorkFirst } from "../../coordinator/dispatch/lost-work-first.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { heartbeat } from "../helpers/heartbeat-fixture.ts";
import { insertAgent, seedFarm } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { recordingPublisher } from "../helpers/recording-publisher.ts";
import { testLog } from "../helpers/test-log.ts";

/** A farm with agents A and B, each running one chunk (attempts att-a, att-b) when the coordinator restarts. */
function restartedFarm(t: Parameters<typeof seedFarm>[0]) {
  const farm = seedFarm(t, { job: { state: "running" }, chunks: [[0, 4], [5, 9], [10, 14]] });
  const a = farm.agent;
  const b = insertAgent(farm.store, { id: "agt-b" });
  for (const [i, agentId, attemptId] of [[0, a.id, "att-a"], [1, b.id, "att-b"]] as const) {
    const chunkId = farm.chunks[i]!.id;
    farm.store.chunks.transition(chunkId, "queued", 1_000, { dispatchId: `d${i}` });
    farm.store.attempts.insert({ id: attemptId, chunkId, jobId: farm.job.id, agentId, createdAt: 1_000 });
    farm.store.chunks.transition(chunkId, "running", 1_000, { currentAttemptId: attemptId });
  }
  const clock = manualClock(5_000);
  const live = new Map<string, Heartbeat>();
  const first = new LostWorkFirst({ store: farm.store, publisher: recordingPublisher(), live: () => live, ineligible: () => null, clock: clock.now, log: testLog(), settleMs: 1_500, restartHoldMs: 3_000 });
  first.restarted([], ["att-a", "att-b"]);
  return { a, b, clock, live, first };
}

test("after a restart, an agent never heard by the new process is not waited for past settleMs from the first agent heard (not to the bound)", (t) => {
  const { a, clock, live, first } = restartedFarm(t);
  assert.equal(first.holdsPool(), true, "nobody heard yet: held");
  clock.advance(400);
  live.set(a.id, heartbeat(a.id, { status: "busy", attemptId: "att-a" }));
  assert.equal(first.holdsPool(), true, "A heard and names its attempt; B not heard yet: held while the agents are being heard");
  clock.advance(1_499);
  assert.equal(first.holdsPool(), true, "still within settleMs of A");
  clock.advance(1);
  // 1.9 s after the first pass, 1.1 s before the bound: B (killed while the coordinator was down) is not waited for.
  assert.equal(first.holdsPool(), false, "B never heard: released settleMs after A was heard");
});

test("an agent heard within settleMs that does not name its attempt is still waited for (its attempt died with the old process)", (t) => {
  const { a, b, clock, live, first } = restartedFarm(t);
  live.set(a.id, heartbeat(a.id, { status: "busy", attemptId: "att-a" }));
  assert.equal(first.holdsPool(), true);
  clock.advance(1_000);
  live.set(b.id, heartbeat(b.id, { status: "idle", attemptId: null }));
  clock.advance(1_000);
  assert.equal(first.holdsPool(), true, "B heard without att-b: held until att-b ends and its chunk is placed");
  live.set(b.id, heartbeat(b.id, { status: "busy", attemptId: "att-b" }));
  assert.equal(first.holdsPool(), false, "both attempts named: released at once");
});

test("with no agent heard at all, the pool is held to the bound", (t) => {
  const { clock, first } = restartedFarm(t);
  assert.equal(first.holdsPool(), true);
  clock.advance(2_999);
  assert.equal(first.holdsPool(), true);
  clock.advance(1);
  assert.equal(first.holdsPool(), false);
});
