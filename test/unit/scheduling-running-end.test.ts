import assert from "node:assert/strict";
import { test } from "node:test";
import { planEndGame } from "../../coordinator/scheduling/end-game.ts";
import { snapToChunkEdges } from "../../coordinator/scheduling/cut-chunk.ts";
import { agent, chunks, job, loadOf, MODEL, NOW, policy, running, speeds } from "../helpers/scheduling-fixtures.ts";

/**
 * When the scheduler thinks an agent is free decides how the end of a job is
 * cut (end-game.ts): an agent thought free early gets more frames and ends
 * the job late. An agent runs one chunk at a time and claims its next one
 * before the one on its executor ends, so a chunk's claim is not its start.
 * Measured at 64 equal agents (bench/scheduling, 1 s chunks of 4 frames):
 * estimates from claims were 100-250 ms early, the cut gave those agents a
 * frame or two more, and efficiency fell to 0.85 against 0.92 without the cut.
 */

test("a chunk claimed ahead ends a chunk's time after the one before it on the agent, not after its claim", () => {
  const book = speeds({ a: 4 });
  // The first chunk started 800 ms ago (three frames in, by its report); the next was claimed 100 ms ago.
  const first = running("a", "c1", 4, NOW - 800, { framesDone: 3, elapsedMs: 800, reportedAtMs: NOW });
  const ahead = running("a", "c2", 4, NOW - 100);
  const load = loadOf([agent("a")], book, { running: [first, ahead] });
  assert.equal(load.runningEnd(first), NOW + 200);
  assert.equal(load.runningEnd(ahead), NOW + 1200, "starts when the first ends");
  assert.equal(load.freeAt("a"), NOW + 1200);
  // Alone, the same claim would end at its claim plus a chunk.
  assert.equal(loadOf([agent("a")], book, { running: [ahead] }).runningEnd(ahead), NOW + 900);
});

test("a report at the measured pace gives the start on the executor; a card behind that pace ends by its own rate", () => {
  const book = speeds({ a: 4 });
  // Three frames done after 990 ms (the fourth nearly made): the half-frame rate would say 3.5 frames in 990 ms,
  // the last frame 283 ms away; at the measured 4 frames a second it ends 10 ms from the report.
  const onPace = running("a", "c1", 4, NOW - 2000, { framesDone: 3, elapsedMs: 990, reportedAtMs: NOW });
  assert.equal(loadOf([agent("a")], book, { running: [onPace] }).runningEnd(onPace), NOW + 10);
  // Six frames in 3 s where eleven were due: slowed down to 2 frames a second; four frames left, by its rate.
  const slowed = running("a", "c2", 10, NOW - 3000, { framesDone: 6, elapsedMs: 3000, reportedAtMs: NOW });
  const end = loadOf([agent("a")], book, { running: [slowed] }).runningEnd(slowed);
  assert.equal(Math.round(end - NOW), Math.round(4 / (6.5 / 3000)));
});

test("the end of a job is not cut while an agent's speed is only what its first chunk's progress suggests", () => {
  const agents = [agent("a"), agent("b")];
  const book = speeds({ a: 4 });
  const unstarted = chunks("j", 4, 4);
  const base = { job: job("j"), unstarted, eligible: agents, runningEndMs: NOW + 1000, needOf: () => null, policy: policy() };
  // b runs its first chunk: two frames in 700 ms is "3.6 frames a second" from a guess of half a frame (without
  // this rule the cut is made: the pool would end the job at +2.8 s, the cut at +2.38 s).
  const bFirst = running("b", "b1", 4, NOW - 700, { framesDone: 2, elapsedMs: 700, reportedAtMs: NOW });
  assert.equal(planEndGame({ ...base, load: loadOf(agents, book, { running: [bFirst] }) }), null);
  // Once b has committed a chunk, the cut goes ahead on measured speeds.
  book.add({ agentId: "b", modelSha256: MODEL, frames: 4, busySeconds: 1, wallSeconds: 1 });
  const bSecond = running("b", "b2", 4, NOW - 200, { framesDone: 0, elapsedMs: 200, reportedAtMs: NOW });
  const plan = planEndGame({ ...base, load: loadOf(agents, book, { running: [bSecond] }) });
  assert.ok(plan, "cut once b's speed is measured");
  assert.equal(plan.pieces.reduce((n, p) => n + p.frameEnd - p.frameStart + 1, 0), 16);
});

test("a cut's boundary moves onto a chunk's edge only when the frames moved are a small part of the gaining run", () => {
  const cs = chunks("j", 3, 4);
  const equal = (): number => 4;
  // 5 + 4 + 3 frames: moving one frame back onto the edge at 4 would be a quarter more on the gaining run.
  assert.deepEqual(snapToChunkEdges(cs, [["x", 5], ["y", 4], ["z", 3]], equal, 0.05), [["x", 5], ["y", 4], ["z", 3]]);
  // One frame onto a run of 20 is 5 %: moved; onto a run of 19, not.
  const big = chunks("j", 3, 20);
  assert.deepEqual(snapToChunkEdges(big, [["x", 21], ["y", 20], ["z", 19]], equal, 0.05), [["x", 20], ["y", 21], ["z", 19]]);
});

test("the end of a job hands lost work out first: a tried chunk's frames go to the agent free first", () => {
  // a is idle, b busy for 1 s more; four 4-frame chunks, the last one lost by an agent before (tried).
  const agents = [agent("a"), agent("b")];
  const book = speeds({ a: 4, b: 4 });
  const unstarted = chunks("j", 4, 4).map((c, i) => (i === 3 ? { ...c, tried: true } : c));
  const bBusy = running("b", "b1", 4, NOW, { framesDone: 0, elapsedMs: 1, reportedAtMs: NOW });
  const plan = planEndGame({ job: job("j"), unstarted, eligible: agents, runningEndMs: NOW + 1000, load: loadOf(agents, book, { running: [bBusy] }), needOf: () => null, policy: policy() });
  assert.ok(plan);
  const first = plan.pieces[0]!;
  assert.deepEqual([first.agentId, first.sourceChunkId, first.frameStart], ["a", "j.c3", 12], "the lost chunk opens the idle agent's run");
  assert.equal(plan.pieces.reduce((n, p) => n + p.frameEnd - p.frameStart + 1, 0), 16, "every unstarted frame, once");
  // Without a tried chunk, frame order.
  const plain = planEndGame({ job: job("j"), unstarted: chunks("j", 4, 4), eligible: agents, runningEndMs: NOW + 1000, load: loadOf(agents, book, { running: [bBusy] }), needOf: () => null, policy: policy() });
  assert.deepEqual([plain?.pieces[0]?.agentId, plain?.pieces[0]?.frameStart], ["a", 0]);
});
