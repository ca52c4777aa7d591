import assert from "node:assert/strict";
import { test } from "node:test";
import { carve } from "../../coordinator/scheduling/cut-chunk.ts";
import { inLastRounds, planEndGame } from "../../coordinator/scheduling/end-game.ts";
import { planSpeculation } from "../../coordinator/scheduling/speculation.ts";
import { greedyFinish, waterFill, wholeShares } from "../../coordinator/scheduling/water-fill.ts";
import { SpeedBook } from "../../coordinator/scheduling/speed-book.ts";
import { agent, chunks, job, loadOf, MODEL, NOW, policy, running, speeds } from "../helpers/scheduling-fixtures.ts";

test("water filling: every lane finishes at the same moment; lanes free after it get nothing", () => {
  const { finishMs, shares } = waterFill(
    [
      { agentId: "a", freeAtMs: 0, fps: 10 },
      { agentId: "b", freeAtMs: 1000, fps: 10 },
      { agentId: "c", freeAtMs: 9000, fps: 10 },
    ],
    30,
  );
  assert.equal(finishMs, 2000);
  assert.deepEqual([...shares], [["a", 20], ["b", 10]]);
  assert.deepEqual([...wholeShares(new Map([["a", 1.6], ["b", 1.4], ["c", 2]]), 5)], [["a", 2], ["b", 1], ["c", 2]]);
  // The pool hands chunks to whoever is free first: the slow lane takes the third chunk and ends last.
  assert.equal(greedyFinish([{ agentId: "f", freeAtMs: 500, fps: 10 }, { agentId: "s", freeAtMs: 0, fps: 2.5 }], [10, 10, 10], 0), 4000);
});

test("carving keeps runs inside chunks (never across a shot cut) and gives cut edges overlap context", () => {
  const cs = chunks("j", 2, 10, {}, 100).map((c, i) => ({ ...c, contextStart: c.frameStart - (i === 0 ? 0 : 2), contextEnd: c.frameEnd + 2 }));
  const pieces = carve(cs, [["x", 4], ["y", 12], ["z", 4]], 2);
  assert.deepEqual(
    pieces.map((p) => [p.key, p.sourceChunkId, p.frameStart, p.frameEnd, p.contextStart, p.contextEnd]),
    [
      ["x", "j.c0", 100, 103, 100, 105],
      ["y", "j.c0", 104, 109, 102, 111],
      ["y", "j.c1", 110, 115, 108, 117],
      ["z", "j.c1", 116, 119, 114, 121],
    ],
  );
  assert.throws(() => carve(cs, [["x", 5]], 0), /were not handed out/);
});

test("end of a job on mixed speeds: the remaining chunks are cut so that all agents finish together", () => {
  // fast 10 frames/s, mid 5, slow 2.5. Four 10-frame chunks are left; fast and mid are busy for 0.5 s more, slow is idle.
  const agents = [agent("fast", { loadedModels: [MODEL] }), agent("mid", { loadedModels: [MODEL] }), agent("slow", { loadedModels: [MODEL] })];
  const book = speeds({ fast: 10, mid: 5, slow: 2.5 });
  const run = [running("fast", "r1", 10, NOW - 500), running("mid", "r2", 10, NOW - 1500)];
  const load = loadOf(agents, book, { running: run });
  const plan = planEndGame({ job: job("j"), unstarted: chunks("j", 4, 10, { state: "queued" }), eligible: agents, runningEndMs: NOW + 500, load, needOf: () => null, policy: policy() });
  assert.ok(plan);
  // Greedy (the pool): slow takes the first chunk (4 s), fast and mid the rest: the job ends at +4 s. Water filling:
  // 40 frames = (T - 0.5) * 10 + (T - 0.5) * 5 + T * 2.5, so T = +2.714 s: shares 22.1, 11.1 and 6.8 frames, rounded to
  // 22, 11, 7; the fast/mid boundary (frame 29) is moved onto the chunk edge at 30 to avoid a one-frame piece.
  assert.equal(Math.round(plan.currentFinishMs - NOW), 4000);
  assert.equal(Math.round(plan.finishMs - NOW), 2714);
  assert.deepEqual(plan.revoke, ["j.c0", "j.c1", "j.c2", "j.c3"]);
  assert.deepEqual(
    plan.pieces.map((p) => [p.agentId, p.sourceChunkId, p.frameStart, p.frameEnd]),
    [
      ["slow", "j.c0", 0, 6],
      ["fast", "j.c0", 7, 9],
      ["fast", "j.c1", 10, 19],
      ["fast", "j.c2", 20, 29],
      ["mid", "j.c3", 30, 39],
    ],
  );
  assert.equal(plan.pieces.reduce((n, p) => n + p.frameEnd - p.frameStart + 1, 0), 40, "every unstarted frame, once");
});

test("end of a job: nothing changes when the gain is small, speeds are unknown, or the job is not near its end", () => {
  const agents = [agent("a"), agent("b")];
  const book = speeds({ a: 10, b: 10 });
  const base = { job: job("j"), eligible: agents, runningEndMs: NOW, needOf: () => null, policy: policy() };
  // Two equal agents, two chunks in the pool: the pool already does the right thing.
  assert.equal(planEndGame({ ...base, unstarted: chunks("j", 2, 10, { state: "queued" }), load: loadOf(agents, book) }), null);
  assert.equal(planEndGame({ ...base, unstarted: chunks("j", 2, 10), load: loadOf(agents, new SpeedBook()) }), null, "no measured speed");
  assert.equal(planEndGame({ ...base, unstarted: chunks("j", 10, 10), load: loadOf(agents, book) }), null, "far from the end");
  assert.equal(planEndGame({ ...base, unstarted: chunks("j", 2, 10), load: loadOf(agents, book), policy: policy({ splitting: false }) }), null);
  assert.equal(inLastRounds(30, 10, [10, 10, 2.5], 1), true, "1.2 s of work left, the slow card needs 4 s for a chunk");
  assert.equal(inLastRounds(200, 10, [10, 10, 10], 1), false);
});

test("speculation: an idle fast agent copies the chunk a slow agent would finish last; never without evidence", () => {
  const agents = [agent("fast", { loadedModels: [MODEL] }), agent("slow", { loadedModels: [MODEL] })];
  const book = speeds({ fast: 10, slow: 2.5 });
  const slowRun = running("slow", "c9", 10, NOW - 1000);
  const base = { idle: [agents[0]!], jobs: new Map([["j", job("j")]]), jobsWithUnstarted: new Set<string>(), needOf: () => null, policy: policy() };
  const specs = planSpeculation({ ...base, running: [slowRun], load: loadOf(agents, book, { running: [slowRun] }) });
  // slow ends at +3 s; a copy on fast ends at +1 s.
  assert.deepEqual(specs, [{ chunkId: "c9", jobId: "j", agentId: "fast", gainMs: 2000 }]);

  // Progress says the slow agent is nearly done: no copy.
  const nearlyDone = { ...slowRun, framesDone: 9, elapsedMs: 3600 };
  assert.deepEqual(planSpeculation({ ...base, running: [nearlyDone], load: loadOf(agents, book, { running: [nearlyDone] }) }), []);
  // Already copied, or the job still has unstarted work, or speculation is off: no copy.
  assert.deepEqual(planSpeculation({ ...base, running: [{ ...slowRun, hasCopy: true }], load: loadOf(agents, book) }), []);
  assert.deepEqual(planSpeculation({ ...base, jobsWithUnstarted: new Set(["j"]), running: [slowRun], load: loadOf(agents, book, { running: [slowRun] }) }), []);
  assert.deepEqual(planSpeculation({ ...base, policy: policy({ speculation: false }), running: [slowRun], load: loadOf(agents, book, { running: [slowRun] }) }), []);
  // The holder's speed was never measured and it reports no progress: no evidence, no copy.
  const unknown = running("new", "c8", 10, NOW - 1000);
  const agents3 = [...agents, agent("new")];
  assert.deepEqual(planSpeculation({ ...base, running: [unknown], load: loadOf(agents3, book, { running: [unknown] }) }), []);
  // A copy must not go to an agent that may not run the job.
  assert.deepEqual(planSpeculation({ ...base, jobs: new Map([["j", job("j", { blockedAgents: ["fast"] })]]), running: [slowRun], load: loadOf(agents, book, { running: [slowRun] }) }), []);
});
