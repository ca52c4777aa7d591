import { test } from "node:test";
import assert from "node:assert/strict";
import { afterPass, pickNext } from "../../coordinator/scheduling/pick-next.ts";
import type { FarmSnapshot } from "../../coordinator/scheduling/plan-dispatch.ts";
import { agent, job, NOW, policy, speeds } from "../helpers/scheduling-fixtures.ts";
import type { JobNeeds } from "../../coordinator/scheduling/scheduling-types.ts";

/** The pick for a claim of the next chunk is the dispatch pass's placement read for one agent (pick-next.ts). */

function snapshot(o: Partial<FarmSnapshot> & { jobList: JobNeeds[] }): FarmSnapshot {
  const { jobList, ...rest } = o;
  return {
    now: NOW,
    agents: [agent("a"), agent("b")],
    jobs: new Map(jobList.map((j) => [j.jobId, j])),
    models: new Map(),
    pending: [],
    nearEnd: new Map(),
    jobsWithUnstarted: new Set(jobList.map((j) => j.jobId)),
    running: [],
    waiting: [],
    poolQueued: 0,
    poolWaiting: new Set(),
    depthPerAgent: 2,
    limit: Infinity,
    needOf: () => null,
    ...rest,
  };
}

const book = speeds({ a: 10, b: 10 });
const pending = (jobId: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${jobId}.c${i}`, jobId, frames: 2 }));

test("the pending chunks of the highest-priority job come first", () => {
  const s = snapshot({ jobList: [job("high", { priority: 50 }), job("low")], pending: [...pending("high", 1), ...pending("low", 2)], poolWaiting: new Set(["high", "low"]) });
  assert.deepEqual(pickNext("a", s, book, policy(), 1), ["high.c0"]);
});

test("a higher-priority job whose chunks all wait in the pool holds back a lower one: none, so the agent pulls", () => {
  // The high job's chunks are published (queued in the pool), none pending; the low job has pending chunks.
  const s = snapshot({ jobList: [job("high", { priority: 50 }), job("low")], pending: pending("low", 3), poolQueued: 2, poolWaiting: new Set(["high", "low"]) });
  assert.deepEqual(pickNext("a", s, book, policy(), 4), []);
  // With the high job gone from the pool, the low job's chunks are answered.
  assert.deepEqual(pickNext("a", { ...s, poolWaiting: new Set(["low"]) }, book, policy(), 4), ["low.c0", "low.c1", "low.c2"]);
});

test("a job the agent may not run, an agent with placed work waiting, a job near its end, and a draining agent get none", () => {
  const tagged = snapshot({ jobList: [job("gpu", { tags: ["big"] })], pending: pending("gpu", 2), poolWaiting: new Set(), agents: [agent("a"), agent("b", { tags: ["big"] })] });
  assert.deepEqual(pickNext("a", tagged, book, policy(), 4), []);
  assert.deepEqual(pickNext("b", tagged, book, policy(), 1), ["gpu.c0"]);
  const plain = snapshot({ jobList: [job("j")], pending: pending("j", 2), poolWaiting: new Set(["j"]) });
  assert.deepEqual(pickNext("a", plain, book, policy(), 4), ["j.c0", "j.c1"]);
  assert.deepEqual(pickNext("a", { ...plain, waiting: [{ chunkId: "j.c9", jobId: "j", agentId: "a", frames: 2 }] }, book, policy(), 4), []);
  assert.deepEqual(pickNext("a", { ...plain, nearEnd: new Map([["j", []]]) }, book, policy(), 4), []);
  assert.deepEqual(pickNext("a", { ...plain, agents: [agent("a", { accepting: false }), agent("b")] }, book, policy(), 4), []);
});

test("picks from a pass's snapshot as the pass left the farm: its placed chunks are gone, an agent it placed on gets none", () => {
  const s = snapshot({ jobList: [job("j")], pending: pending("j", 4), poolWaiting: new Set(["j"]) });
  const plan = { endGames: [], speculations: [], holds: [], placements: [{ chunkId: "j.c0", jobId: "j", agentId: null }, { chunkId: "j.c1", jobId: "j", agentId: "b" }] };
  const after = afterPass(s, plan);
  assert.equal(after.poolQueued, 1);
  assert.deepEqual(pickNext("a", after, book, policy(), 4), ["j.c2", "j.c3"]);
  assert.deepEqual(pickNext("b", after, book, policy(), 4), [], "b has j.c1 waiting on its subject");
});
