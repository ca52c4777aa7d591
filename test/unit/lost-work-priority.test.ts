import assert from "node:assert/strict";
import { test } from "node:test";
import { LostWorkFirst, type LostWorkFirstDeps } from "../../coordinator/dispatch/lost-work-first.ts";
import { heard } from "../helpers/heartbeat-fixture.ts";
import { insertAgent, insertChunks, insertJob, seedFarm } from "../helpers/store-fixture.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { recordingPublisher } from "../helpers/recording-publisher.ts";
import { testLog } from "../helpers/test-log.ts";

/** Lost work first among its own priority and lower (coordinator/dispatch/outranking-work.ts); the queue itself: lost-chunk-priority.test.ts. */

function lowFarmWithHighJob(t: Parameters<typeof seedFarm>[0]) {
  const farm = seedFarm(t, { job: { state: "running", priority: 0 } });
  const high = insertJob(farm.store, { id: "high", state: "queued", priority: 50 });
  insertChunks(farm.store, high.id, [[0, 4]]);
  const publisher = recordingPublisher();
  const first = (o: Partial<LostWorkFirstDeps> = {}): LostWorkFirst =>
    new LostWorkFirst({ store: farm.store, publisher, live: () => heard(farm.store.agents.list().map((a) => a.id)), ineligible: () => null, clock: manualClock(5_000).now, log: testLog(), ...o });
  return { farm, high, publisher, first };
}

test("an agent that may run a higher job's waiting chunks is not given a lower job's lost chunk; one that may not is", async (t) => {
  const { farm, high, publisher, first } = lowFarmWithHighJob(t);
  const lost = farm.chunks[0]!.id;
  const lostFirst = first();
  lostFirst.requeued(lost);
  await lostFirst.place();
  assert.equal(publisher.sent.length, 0, "the high job's chunk waits for the only agent: the lost chunk waits too");
  assert.equal(lostFirst.waiting, 1);

  // Another agent that may not run the high job (tags): the lost chunk goes there.
  const other = insertAgent(farm.store, { id: "agt-untagged" });
  const withTags = first({ ineligible: (a, j) => (j.id === high.id && a.id === other.id ? "tags" : null) });
  withTags.requeued(lost);
  await withTags.place();
  assert.deepEqual(publisher.sent.map((s) => [s.msg.chunkId, s.agentId]), [[lost, other.id]]);
});

test("once the higher job's chunks are all claimed, or while it is held by its window, the lost chunk goes first", async (t) => {
  const { farm, high, publisher, first } = lowFarmWithHighJob(t);
  const [lost, second] = farm.chunks.map((c) => c.id);
  const held = first({ held: (job) => job.id === high.id });
  held.requeued(lost!);
  await held.place();
  assert.deepEqual(publisher.sent.map((s) => s.msg.chunkId), [lost], "a job held by its window outranks nothing");

  const lostFirst = first();
  lostFirst.requeued(second!);
  await lostFirst.place();
  assert.equal(publisher.sent.length, 1, "the high job's chunk still waits");
  farm.store.chunks.transition("high_c0", "queued", 5_000, { dispatchId: "dsp-high" });
  await lostFirst.place();
  assert.equal(publisher.sent.length, 1, "queued in the pool and not claimed: still waiting for an agent");
  farm.store.chunks.transition("high_c0", "running", 5_000, {});
  await lostFirst.place();
  assert.deepEqual(publisher.sent.map((s) => s.msg.chunkId), [lost, second]);
});
