import { test } from "node:test";
import assert from "node:assert/strict";
import { SleepExecutor, type SleepClock } from "../../agent/executors/sleep-executor.ts";
import type { ExecutorTask } from "../../agent/executors/executor.ts";

const MS = 100;
const BLOCK_MS = 300;

function task(frames: number[], signal = new AbortController().signal): ExecutorTask {
  return { jobId: "job-clock", chunkId: "c", attemptId: "a", frames, seed: 0, signal, readFrame: () => Promise.reject(new Error("not read")) };
}

/** Runs 4 frames of MS each, holding the event loop BLOCK_MS (a busy agent host) after the first frame arrives; frame arrival times from the start, ms. */
async function arrivals(clock: SleepClock): Promise<number[]> {
  const ex = new SleepExecutor({ msPerFrame: MS, speed: 1, clock });
  const t0 = performance.now();
  const at: number[] = [];
  for await (const _frame of ex.run(task([0, 1, 2, 3]))) {
    at.push(performance.now() - t0);
    if (at.length === 1) {
      const until = performance.now() + BLOCK_MS;
      while (performance.now() < until); // the agent's loop is late, the card is not
    }
  }
  return at;
}

test("absolute clock: a late agent loop does not lengthen the simulated card's work (frame i is ready at start + (i + 1) x frame time)", async () => {
  const at = await arrivals("absolute");
  assert.equal(at.length, 4);
  // Frames 1 and 2 were due (200, 300 ms) while the loop was held (until ~400 ms): they come at once after it.
  assert.ok((at[2] as number) - (at[1] as number) < 30, `frame 2 waited after frame 1: ${at.map(Math.round).join(", ")}`);
  // Frame 3 is due at 400 ms: the chunk ends near 4 x MS, not 4 x MS + BLOCK_MS.
  assert.ok((at[3] as number) < 4 * MS + BLOCK_MS - 100, `chunk took ${Math.round(at[3] as number)} ms: ${at.map(Math.round).join(", ")}`);
  assert.ok((at[3] as number) >= 4 * MS - 2, `frame 3 came before its time: ${at.map(Math.round).join(", ")}`);
});

test("per-frame clock (the old executor): each frame waits a whole frame time from when it was asked for", async () => {
  const at = await arrivals("per-frame");
  assert.equal(at.length, 4);
  assert.ok((at[3] as number) >= 4 * MS + BLOCK_MS - 2, `chunk took ${Math.round(at[3] as number)} ms`);
});

test("absolute clock: aborting mid-chunk ends the run", async () => {
  const ac = new AbortController();
  const ex = new SleepExecutor({ msPerFrame: MS, speed: 2 });
  const got: number[] = [];
  await assert.rejects(async () => {
    for await (const f of ex.run(task([0, 1, 2, 3], ac.signal))) {
      got.push(f.index);
      ac.abort();
    }
  });
  assert.deepEqual(got, [0]);
});
