import assert from "node:assert/strict";
import { test } from "node:test";
import { ClaimAhead, type HeldChunk } from "../../agent/work/claim-ahead.ts";

const running = (framesDone: number, frames: number): HeldChunk => ({ phase: "running", framesDone, frames });
const claimed = (frames = 1): HeldChunk => ({ phase: "claimed", framesDone: 0, frames });
const finishing = (frames = 1): HeldChunk => ({ phase: "finishing", framesDone: frames, frames });

test("before anything is measured: one chunk ahead, claimed only on the running chunk's last frame", () => {
  const p = new ClaimAhead();
  assert.equal(p.target(), 1);
  assert.equal(p.mayClaim([], 0), true, "an idle agent pulls");
  assert.equal(p.mayClaim([running(0, 10)], 0), false, "first of ten frames");
  assert.equal(p.mayClaim([running(8, 10)], 0), false, "ninth of ten frames");
  assert.equal(p.mayClaim([running(9, 10)], 0), true, "last frame");
  assert.equal(p.mayClaim([running(0, 1)], 0), true, "a one-frame chunk is always on its last frame");
  assert.equal(p.mayClaim([running(9, 10), claimed()], 0), false, "one already claimed ahead");
  assert.equal(p.mayClaim([running(9, 10)], 1), false, "one claim already in flight");
});

test("uploads and commits in flight do not hold the executor, up to maxFinishing of them", () => {
  const p = new ClaimAhead({ maxFinishing: 4 });
  assert.equal(p.mayClaim([finishing(), finishing(), finishing()], 0), true, "the slot is free while three commit");
  assert.equal(p.mayClaim([running(0, 1), finishing(), finishing(), finishing()], 0), true);
  assert.equal(p.mayClaim([running(0, 1), finishing(), finishing(), finishing(), finishing()], 0), false, "four uploads in flight: a slow sink stops the claiming");
  assert.equal(p.mayClaim([finishing(), finishing(), finishing(), finishing()], 0), false);
});

test("a second chunk ahead only while a claim round trip outlasts a chunk on the executor, never more than maxAhead", () => {
  const p = new ClaimAhead({ maxAhead: 2 });
  for (let i = 0; i < 5; i++) {
    p.observeClaim(10);
    p.observeChunk(100, 1);
  }
  assert.equal(p.target(), 1, "chunks of 100 ms, claims of 10 ms");
  assert.equal(p.mayClaim([running(0, 1), claimed()], 0), false);
  const short = new ClaimAhead({ maxAhead: 2 });
  for (let i = 0; i < 5; i++) {
    short.observeClaim(90);
    short.observeChunk(30, 1);
  }
  assert.equal(short.target(), 2, "claims of 90 ms, chunks of 30 ms: capped at two");
  assert.equal(short.mayClaim([running(0, 1), claimed()], 0), true);
  assert.equal(short.mayClaim([running(0, 1)], 1), true, "one claim in flight, none waiting");
  assert.equal(short.mayClaim([running(0, 1), claimed()], 1), false);
  assert.equal(short.mayClaim([running(0, 1), claimed(), claimed()], 0), false);
});

test("the running chunk counts as near its end when its frames left take at most two claim round trips", () => {
  const p = new ClaimAhead();
  for (let i = 0; i < 10; i++) {
    p.observeClaim(50);
    p.observeChunk(200, 10); // 20 ms a frame
  }
  assert.equal(p.mayClaim([running(0, 10)], 0), false, "200 ms left");
  assert.equal(p.mayClaim([running(4, 10)], 0), false, "120 ms left");
  assert.equal(p.mayClaim([running(5, 10)], 0), true, "100 ms left: two claims");
  // A pipelined executor's frames arrive in a burst at the end: its time so far says it is near its end.
  assert.equal(p.mayClaim([{ ...running(2, 10), elapsedMs: 90 }], 0), false, "110 ms left by its time");
  assert.equal(p.mayClaim([{ ...running(2, 10), elapsedMs: 110 }], 0), true, "90 ms left by its time");
});

test("claims that vary count with their spread: a claim late half the time asks for a second chunk ahead", () => {
  const steady = new ClaimAhead();
  const spread = new ClaimAhead();
  for (let i = 0; i < 20; i++) {
    steady.observeClaim(60);
    spread.observeClaim(i % 2 === 0 ? 20 : 100); // the same mean, 60 ms
    steady.observeChunk(80, 1);
    spread.observeChunk(80, 1);
  }
  assert.equal(steady.target(), 1, "60 ms claims hide behind 80 ms chunks");
  assert.equal(spread.target(), 2, "claims of 20 or 100 ms do not");
});

test("the averages follow the newest measurements and ignore nonsense", () => {
  const p = new ClaimAhead();
  p.observeClaim(Number.NaN);
  p.observeChunk(-1, 1);
  p.observeChunk(10, 0);
  assert.equal(p.target(), 1, "nothing valid measured");
  p.observeClaim(100);
  p.observeChunk(10, 1);
  assert.equal(p.target(), 2);
  for (let i = 0; i < 20; i++) p.observeClaim(5);
  assert.equal(p.target(), 1, "claims got fast again");
  assert.throws(() => new ClaimAhead({ maxAhead: 0 }), /maxAhead/);
});

test("before a chunk is measured, the running chunk's own frames so far give its time per frame", () => {
  const p = new ClaimAhead();
  assert.equal(p.mayClaim([{ ...running(2, 4), elapsedMs: 500 }], 0), false, "no claim measured yet: the last frame only");
  p.observeClaim(300); // a claim under load: two of them outlast the last frame's 250 ms
  assert.equal(p.mayClaim([{ ...running(0, 4), elapsedMs: 200 }], 0), false, "no frame made yet: no pace");
  assert.equal(p.mayClaim([{ ...running(1, 4), elapsedMs: 250 }], 0), false, "750 ms left at 250 ms a frame");
  assert.equal(p.mayClaim([{ ...running(2, 4), elapsedMs: 500 }], 0), true, "500 ms left: within two claims");
  assert.equal(p.mayClaim([running(2, 4)], 0), false, "no time so far: the last frame only");
});
