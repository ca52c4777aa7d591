import { test } from "node:test";
import assert from "node:assert/strict";
import { IllegalTransitionError } from "../../shared/errors.ts";
import { insertChunks, insertJob, openTempStore } from "../helpers/store-fixture.ts";

test("queuePending leaves a chunk as transition() to queued does, and refuses, changing nothing, a chunk that is not pending", (t) => {
  const { store } = openTempStore(t);
  const job = insertJob(store, { state: "running" });
  const [a, b, c] = insertChunks(store, job.id, [[0, 1], [2, 3], [4, 5]]).map((r) => r.id) as [string, string, string];
  store.chunks.transition(a, "queued", 5_000, { dispatchId: "dsp_a", placedAgentId: "agt_1" });
  store.chunks.queuePending(b, 5_000, "dsp_a", "agt_1");
  const viaTransition = store.chunks.get(a);
  const viaQueue = store.chunks.get(b);
  assert.deepEqual({ ...viaQueue, id: "", idx: 0, frameStart: 0, frameEnd: 0, contextStart: 0, contextEnd: 0 }, { ...viaTransition, id: "", idx: 0, frameStart: 0, frameEnd: 0, contextStart: 0, contextEnd: 0 });
  store.chunks.queuePending(c, 5_000, "dsp_c", null);
  assert.equal(store.chunks.get(c)?.placedAgentId, null, "the pool");
  // Queued, running, done: refused by name, the row unchanged.
  for (const to of ["running", "done"] as const) {
    const before = store.chunks.get(a);
    assert.throws(() => store.chunks.queuePending(a, 6_000, "dsp_x", null), (err: unknown) => err instanceof IllegalTransitionError && err.from === before?.state);
    assert.deepEqual(store.chunks.get(a), before);
    store.chunks.transition(a, to, 6_000, to === "running" ? { currentAttemptId: null } : {});
  }
  assert.throws(() => store.chunks.queuePending(a, 7_000, "dsp_y", null), (err: unknown) => err instanceof IllegalTransitionError && err.from === "done");
  assert.throws(() => store.chunks.queuePending("no-such-chunk", 6_000, "dsp_x", null), /no chunk no-such-chunk/);
});
