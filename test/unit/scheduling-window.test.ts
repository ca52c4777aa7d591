import assert from "node:assert/strict";
import { test } from "node:test";
import { assessWindow, nextLocalTime, windowDeadline, windowHolds, windowOpensAt, type JobWindow } from "../../coordinator/scheduling/job-window.ts";
import { jobProgress } from "../../coordinator/scheduling/job-progress.ts";
import { compileZoneOffset } from "../../shared/accounting/zone-offset.ts";

const utc = compileZoneOffset("UTC");
const berlin = compileZoneOffset("Europe/Berlin");
const at = (iso: string): number => Date.parse(iso);
const win = (notBefore: string | null, doneBy: string | null): JobWindow => {
  const m = (s: string | null): number | null => (s === null ? null : Number(s.slice(0, 2)) * 60 + Number(s.slice(3)));
  return { notBefore, doneBy, notBeforeMinutes: m(notBefore), doneByMinutes: m(doneBy) };
};

test("notBefore 22:00 holds a job submitted in the afternoon until 22:00 local time", () => {
  const w = win("22:00", "07:00");
  const created = at("2025-03-10T15:00:00Z");
  assert.equal(windowOpensAt(w, created, utc.offsetMs), at("2025-03-10T22:00:00Z"));
  assert.equal(windowDeadline(w, at("2025-03-10T22:00:00Z"), utc.offsetMs), at("2025-03-11T07:00:00Z"));
  // Berlin is UTC+1 in March (before the switch): 22:00 local is 21:00Z.
  assert.equal(windowOpensAt(w, created, berlin.offsetMs), at("2025-03-10T21:00:00Z"));
  const held = assessWindow(w, created, at("2025-03-10T16:30:00Z"), utc.offsetMs, 1000, 0);
  assert.equal(held.held, true);
  assert.equal(held.note, "waiting for window.notBefore 22:00 (2025-03-10 22:00, in 5h 30m)");
  assert.equal(assessWindow(w, created, at("2025-03-10T22:00:00Z"), utc.offsetMs, 1000, 0).held, false, "open at 22:00 sharp");
  // windowHolds (lost work's priority rule) says the same as assessWindow.
  assert.equal(windowHolds(w, created, at("2025-03-10T16:30:00Z"), utc.offsetMs), true);
  assert.equal(windowHolds(w, created, at("2025-03-10T22:00:00Z"), utc.offsetMs), false);
  assert.equal(windowHolds(win(null, "07:00"), created, created, utc.offsetMs), false);
  assert.equal(windowHolds(undefined, created, created, utc.offsetMs), false);
});

test("a job submitted inside a window that crosses midnight starts at once; with only notBefore it waits for the next one", () => {
  assert.equal(windowOpensAt(win("22:00", "07:00"), at("2025-03-11T03:00:00Z"), utc.offsetMs), at("2025-03-11T03:00:00Z"));
  assert.equal(windowOpensAt(win("22:00", "07:00"), at("2025-03-10T23:30:00Z"), utc.offsetMs), at("2025-03-10T23:30:00Z"));
  assert.equal(windowOpensAt(win("22:00", null), at("2025-03-11T03:00:00Z"), utc.offsetMs), at("2025-03-11T22:00:00Z"));
  assert.equal(windowOpensAt(win(null, "07:00"), at("2025-03-11T03:00:00Z"), utc.offsetMs), at("2025-03-11T03:00:00Z"));
  assert.equal(nextLocalTime(at("2025-03-11T07:00:00Z"), 7 * 60, utc.offsetMs), at("2025-03-11T07:00:00Z"));
  // Across the spring DST switch in Berlin (30 March 2025): 22:00 local on the 30th is 20:00Z.
  assert.equal(nextLocalTime(at("2025-03-30T12:00:00Z"), 22 * 60, berlin.offsetMs), at("2025-03-30T20:00:00Z"));
});

test("doneBy warns when the ETA from measured speeds is past it, and not when it can be met or nothing is measured", () => {
  const w = win("22:00", "07:00");
  const created = at("2025-03-10T15:00:00Z");
  // Held until 22:00; 36,000 frames at 1 frame/s = 10 h: finishes 08:00, past 07:00.
  const late = assessWindow(w, created, at("2025-03-10T20:00:00Z"), utc.offsetMs, 36_000, 1);
  assert.equal(late.late, true);
  assert.equal(late.etaMs, at("2025-03-11T08:00:00Z"));
  assert.equal(
    late.note,
    "waiting for window.notBefore 22:00 (2025-03-10 22:00, in 2h 00m); window.doneBy 07:00 cannot be met: estimated finish 2025-03-11 08:00 (36000 frames left at 1.0 frames/s)",
  );
  const fine = assessWindow(w, created, at("2025-03-10T23:00:00Z"), utc.offsetMs, 3600, 1);
  assert.deepEqual([fine.held, fine.late, fine.note], [false, false, null]);
  assert.equal(assessWindow(w, created, at("2025-03-10T23:00:00Z"), utc.offsetMs, 36_000, 0).late, false, "no speed known: no claim");
});

test("job progress: per-agent frames, speeds and chunk ETA; the job's speed sums the agents working on it", () => {
  const p = jobProgress({
    nowMs: 10_000,
    framesTotal: 100,
    framesDone: 40,
    startedAtMs: 0,
    ledger: [{ agentId: "a", frames: 30 }, { agentId: "b", frames: 10 }],
    running: [
      { agentId: "a", chunkId: "c5", frames: 10, startedAtMs: 8_000, framesDone: 4, speculative: false },
      { agentId: "c", chunkId: "c4", frames: 10, startedAtMs: 9_000, framesDone: null, speculative: true, frameDetail: "frame 3: Sample 8/64" },
    ],
    nameOf: (id) => `agent-${id}`,
    fpsOf: (id) => ({ a: 2.5, b: 1 })[id] ?? null,
  });
  assert.deepEqual(p.agents, [
    { agentId: "a", name: "agent-a", framesDone: 30, framesPerSecond: 2.5, chunkId: "c5", chunkFramesDone: 4, chunkFramesTotal: 10, etaSeconds: 3, speculative: false, frameDetail: "" },
    { agentId: "b", name: "agent-b", framesDone: 10, framesPerSecond: 1, chunkId: "", chunkFramesDone: 0, chunkFramesTotal: 0, etaSeconds: -1, speculative: false, frameDetail: "" },
    { agentId: "c", name: "agent-c", framesDone: 0, framesPerSecond: 0, chunkId: "c4", chunkFramesDone: 0, chunkFramesTotal: 10, etaSeconds: -1, speculative: true, frameDetail: "frame 3: Sample 8/64" },
  ]);
  assert.equal(p.framesPerSecond, 2.5, "a works at 2.5, c is unmeasured, b is not working on it now");
  assert.equal(p.etaSeconds, 24);
  const none = jobProgress({ nowMs: 10_000, framesTotal: 100, framesDone: 20, startedAtMs: 0, ledger: [], running: [], nameOf: String, fpsOf: () => null });
  assert.deepEqual([none.framesPerSecond, none.etaSeconds], [2, 40], "nothing measured: frames done over time since start");
  assert.equal(jobProgress({ nowMs: 1, framesTotal: 5, framesDone: 5, startedAtMs: 0, ledger: [], running: [], nameOf: String, fpsOf: () => null }).etaSeconds, 0);
});
