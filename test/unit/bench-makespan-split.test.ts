import assert from "node:assert/strict";
import { test } from "node:test";
import { splitMakespan } from "../../bench/scheduling/makespan-split.ts";

/**
 * The scheduling bench's makespan split (bench/scheduling/makespan-split.ts)
 * on a fixed timeline: release at 0, job done at 2300 ms, frames of 250 ms.
 *   a: claims at 50, starts 60, 1000 ms; next claimed ahead at 900, starts 1065, ends 2065; committed 2080.
 *   b: claims at 200, starts 300, ends 1300; next claimed late at 1350, starts 1400, ends 2200; committed 2290.
 *   c: online, never started.
 */
const input = {
  releaseMs: 0,
  doneMs: 2300,
  agents: ["a", "b", "c"],
  msPerFrame: 250,
  spans: [
    { agent: "a", attemptId: "a1", startMs: 60, endMs: 1060, frames: 4 },
    { agent: "a", attemptId: "a2", startMs: 1065, endMs: 2065, frames: 4 },
    { agent: "b", attemptId: "b1", startMs: 300, endMs: 1300, frames: 4 },
    { agent: "b", attemptId: "b2", startMs: 1400, endMs: 2200, frames: 3 },
  ],
  attempts: [
    { id: "a1", state: "committed", claimedMs: 50, finishedMs: 1070 },
    { id: "a2", state: "committed", claimedMs: 900, finishedMs: 2080 },
    { id: "b1", state: "committed", claimedMs: 200, finishedMs: 1310 },
    { id: "b2", state: "committed", claimedMs: 1350, finishedMs: 2290 },
  ],
};

test("the makespan split adds agents x makespan up from work, ramp-up, gaps, tail and agents that never started", () => {
  const s = splitMakespan(input);
  assert.equal(s.makespanSeconds, 2.3);
  const total = 3 * 2300;
  const share = s.agentSecondsShare;
  assert.equal(share.work, Math.round(((1000 + 1000 + 1000 + 800) / total) * 1000) / 1000);
  assert.equal(share.rampUp, Math.round(((60 + 300) / total) * 1000) / 1000);
  assert.equal(share.gaps, Math.round(((5 + 100) / total) * 1000) / 1000);
  assert.equal(share.tail, Math.round(((2300 - 2065 + 2300 - 2200) / total) * 1000) / 1000);
  assert.equal(share.neverStarted, Math.round((2300 / total) * 1000) / 1000);
  assert.ok(Math.abs(share.work + share.rampUp + share.gaps + share.tail + share.neverStarted - 1) < 0.005);
});

test("the split says which gaps waited for a claim, where the ramp-up and the tail went, and the critical agent", () => {
  const s = splitMakespan(input);
  assert.deepEqual([s.rampUp.firstStartMs, s.rampUp.allStartedMs, s.rampUp.meanMs, s.rampUp.agentsNeverStarted], [60, 300, 180, 1]);
  assert.deepEqual([s.rampUp.firstClaim.meanMs, s.rampUp.claimToStart.meanMs], [125, 55]);
  assert.deepEqual(s.rampUp.firstStart, { count: 2, meanMs: 180, p50Ms: 60, p90Ms: 300, maxMs: 300 });
  assert.equal(s.gaps.count, 2);
  assert.equal(s.gaps.claimedAhead.count, 1);
  assert.equal(s.gaps.claimedAhead.maxMs, 5);
  assert.equal(s.gaps.claimedLate.count, 1);
  assert.equal(s.gaps.claimedLate.maxMs, 100);
  assert.equal(s.gaps.claimedLate.lateClaimMeanMs, 50, "b's second claim came 50 ms after its first chunk's last frame");
  // Work: 3800 ms made against 15 frames x 250 ms = 3750.
  assert.equal(s.work.meanOverrunMs, 12.5);
  assert.deepEqual([s.tail.firstIdleToDoneMs, s.tail.lastFrameToDoneMs, s.tail.lastCommitToDoneMs], [235, 100, 10]);
  assert.deepEqual([s.lastFrameToCommit.count, s.lastFrameToCommit.maxMs], [4, 90]);
  assert.deepEqual(s.criticalAgent, { agent: "b", rampUpMs: 300, workMs: 1800, gapsMs: 100, chunks: 2, tailMs: 100 });
  assert.equal(s.criticalAgent.rampUpMs + s.criticalAgent.workMs + s.criticalAgent.gapsMs + s.criticalAgent.tailMs, 2300, "the critical agent's parts are the makespan");
});
