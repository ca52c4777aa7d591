import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { takeSnapshot } from "../../coordinator/scheduling/farm-snapshot.ts";
import { planDispatch } from "../../coordinator/scheduling/plan-dispatch.ts";
import { defaultSchedulingDeps } from "../../coordinator/scheduling/scheduling-deps.ts";
import { pendingOfJob } from "../../coordinator/scheduling/snapshot-queries.ts";
import { routeJob } from "../../coordinator/scheduling/place-chunks.ts";
import type { Store } from "../../coordinator/store/store.ts";
import { insertAgent, insertChunks, insertJob, openTempStore, queueChunk } from "../helpers/store-fixture.ts";
import { hearOnline } from "../helpers/heartbeat-fixture.ts";

const frames = (n: number, from = 0): Array<[number, number]> => Array.from({ length: n }, (_, i) => [from + i, from + i]);

/** What the pass read before: every job's pending chunks in priority order, up to the pass's whole room plus a margin. */
function fullPendingRead(store: Store, jobIds: readonly string[], want: number) {
  const out = [];
  for (const id of jobIds) {
    if (want <= 0) break;
    const rows = pendingOfJob(store, id, want);
    out.push(...rows);
    want -= rows.length;
  }
  return out;
}

test("a pass reads only the pending chunks it could place, and plans exactly what the full read planned", (t) => {
  const { store } = openTempStore(t);
  const agents = ["agt_a", "agt_b", "agt_c", "agt_d"].map((id) => insertAgent(store, { id }));
  // Priority order: a pool job with more chunks than the pool has room for, a job one agent may not run
  // (placed on agents), a job no agent may run (held), and a second pool job behind them.
  const pool = insertJob(store, { id: "job_pool", priority: 10, frameEnd: 39 });
  const placed = insertJob(store, { id: "job_placed", priority: 5, frameEnd: 19 });
  const held = insertJob(store, { id: "job_held", priority: 1, frameEnd: 4 });
  const later = insertJob(store, { id: "job_later", priority: 0, frameEnd: 9 });
  const poolChunks = insertChunks(store, pool.id, frames(40));
  insertChunks(store, placed.id, frames(20));
  insertChunks(store, held.id, frames(5));
  insertChunks(store, later.id, frames(10));
  for (const c of poolChunks.slice(0, 2)) queueChunk(store, c.id);
  store.blocklist.recordFailure(placed.id, "agt_a", "boom", true, 1_000);
  for (const a of agents) store.blocklist.recordFailure(held.id, a.id, "boom", true, 1_000);

  const deps = { ...defaultSchedulingDeps(), store, policy: DEFAULT_FARM_POLICY, live: hearOnline(store) };
  const { snapshot } = takeSnapshot(deps, deps.speeds.book, 2_000);
  const perJob = (id: string): number => snapshot.pending.filter((c) => c.jobId === id).length;
  const depth = DEFAULT_FARM_POLICY.queueDepthPerAgent;
  const poolRoom = agents.length * depth - 2;
  assert.equal(perJob(pool.id), poolRoom, "the pool job: as many as the pool has room for");
  assert.equal(perJob(placed.id), 20, "the placed job: all its pending chunks, as before");
  assert.equal(perJob(held.id), 1, "the held job: one, enough to say why it is held");
  assert.equal(perJob(later.id), 0, "the later pool job: the pool is full");
  assert.deepEqual(
    snapshot.pending.filter((c) => c.jobId === pool.id).map((c) => c.id),
    poolChunks.slice(2, 2 + poolRoom).map((c) => c.id),
    "in frame order, after the queued ones",
  );

  const want = poolRoom + agents.length * depth + 64;
  const full = fullPendingRead(store, [pool.id, placed.id, held.id, later.id], want);
  assert.ok(full.length > snapshot.pending.length);
  const narrow = planDispatch(snapshot, deps.speeds.book, deps.scheduling);
  const before = planDispatch({ ...snapshot, pending: full }, deps.speeds.book, deps.scheduling);
  assert.deepEqual(narrow, before);
  assert.equal(narrow.placements.filter((p) => p.jobId === pool.id).length, poolRoom);
  // The placed job is of lower priority than the pool job, whose chunks wait for room: it waits too (priority-gate.ts).
  assert.equal(narrow.placements.filter((p) => p.jobId === placed.id).length, 0);
  assert.deepEqual(narrow.holds.map((h) => h.jobId), [held.id]);

  // The routes the snapshot worked out are the ones placement would work out from the plan's agents, and the plan is the same without them.
  assert.deepEqual([...(snapshot.routes?.keys() ?? [])].sort(), [held.id, later.id, placed.id, pool.id].sort());
  for (const [id, route] of snapshot.routes ?? []) assert.deepEqual(route, routeJob(snapshot.jobs.get(id)!, snapshot.agents), id);
  assert.deepEqual(snapshot.routes?.get(placed.id)?.kind, "agents");
  const { routes: _routes, ...withoutRoutes } = snapshot;
  assert.deepEqual(planDispatch(withoutRoutes, deps.speeds.book, deps.scheduling), narrow);
});
