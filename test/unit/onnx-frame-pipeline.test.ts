import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import type { EncodedFrame, RgbFrame } from "../../agent/executors/executor.ts";
import { pipelineFrames, type FramePipelineTask } from "../../agent/executors/frame-pipeline.ts";

/**
 * The ONNX executor's per-frame pipelining (agent/executors/frame-pipeline.ts)
 * with a compute the test finishes by hand: what runs while a frame is in
 * the worker, the bound on frames in flight, temporal windows, failures and
 * aborts. Frames are 1x1 pixels whose red value is their index.
 */

const pixel = (index: number): RgbFrame => ({ width: 1, height: 1, data: Uint8Array.of(index, 0, 0) });

interface Harness {
  events: string[];
  computes: Array<{ window: number[]; signal: AbortSignal; finish: () => void; fail: (e: Error) => void }>;
  task: FramePipelineTask;
}

function harness(frames: number[], over: Partial<FramePipelineTask> = {}): Harness {
  const events: string[] = [];
  const computes: Harness["computes"] = [];
  const task: FramePipelineTask = {
    frames, half: 0, first: frames[0] ?? 0, last: frames[frames.length - 1] ?? 0,
    read: (i) => {
      events.push(`read ${i}`);
      return Promise.resolve(pixel(i));
    },
    compute: (window, signal) => {
      const ids = window.map((f) => f.data[0]!);
      events.push(`compute ${ids.join(",")}`);
      return new Promise((resolve, reject) => {
        computes.push({ window: ids, signal, finish: () => resolve({ frame: pixel(ids[Math.floor(ids.length / 2)]!), seconds: 1 }), fail: reject });
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    },
    encode: (frame, index) => {
      events.push(`encode ${index}`);
      return Promise.resolve({ frame: { index, data: frame.data.slice(0, 1), format: "png" }, seconds: 0.5 });
    },
    signal: new AbortController().signal,
    ...over,
  };
  return { events, computes, task };
}

test("while frame N computes, N+1 is read and queued behind it and N-1 is encoded and handed over; nothing is read further ahead", async () => {
  const h = harness([10, 11, 12, 13]);
  const it = pipelineFrames(h.task);
  const first = it.next();
  await turn();
  // Frame 11 is read while 10 computes, and queued in the worker behind it.
  assert.deepEqual(h.events, ["read 10", "compute 10", "read 11", "compute 11"]);

  h.computes[0]!.finish();
  const got10 = await first;
  assert.equal((got10.value as EncodedFrame).index, 10);
  // 10's encoding started as its compute ended; while 11 computes, 12 was read and queued; then 10 was handed over.
  assert.deepEqual(h.events.slice(4), ["encode 10", "read 12", "compute 12"]);

  // The consumer holds frame 10 (a slow upload): 11 is encoded as its compute ends, but nothing more is read or sent.
  h.computes[1]!.finish();
  await turn();
  await turn();
  assert.deepEqual(h.events.slice(7), ["encode 11"]);
  assert.equal(h.computes.length, 3);

  const got11 = it.next();
  await turn();
  assert.deepEqual(h.events.slice(8), ["read 13", "compute 13"]);
  assert.equal((await got11).value?.index, 11);

  const rest: number[] = [];
  const drain = (async () => {
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.index);
  })();
  h.computes[2]!.finish();
  await turn();
  h.computes[3]!.finish();
  await drain;
  assert.deepEqual(rest, [12, 13]);
  assert.deepEqual(h.events.filter((e) => e.startsWith("read")), ["read 10", "read 11", "read 12", "read 13"]);
});

test("a temporal window sees its neighbours, repeats the edge frame, and reads each input once", async () => {
  const h = harness([0, 1, 2, 3], { half: 1, first: 0, last: 3 });
  const out: number[] = [];
  const drain = (async () => {
    for await (const f of pipelineFrames(h.task)) out.push(f.index);
  })();
  for (let i = 0; i < 4; i++) {
    while (h.computes.length <= i) await turn();
    h.computes[i]!.finish();
  }
  await drain;
  assert.deepEqual(out, [0, 1, 2, 3]);
  assert.deepEqual(h.computes.map((c) => c.window), [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]]);
  assert.deepEqual(h.events.filter((e) => e.startsWith("read")), ["read 0", "read 1", "read 2", "read 3"]);
});

test("a read that fails while an earlier frame computes surfaces as the run's error", async () => {
  const h = harness([0, 1, 2, 3]);
  h.task.read = (i) => (i === 2 ? Promise.reject(new Error("frame 2 is unreadable")) : Promise.resolve(pixel(i)));
  const out: number[] = [];
  const run = (async () => {
    for await (const f of pipelineFrames(h.task)) out.push(f.index);
  })();
  while (h.computes.length < 1) await turn();
  h.computes[0]!.finish();
  await assert.rejects(run, /frame 2 is unreadable/);
  assert.deepEqual(out, []);
});

test("a failed compute is the run's error", async () => {
  const h = harness([0, 1]);
  const run = (async () => {
    for await (const _ of pipelineFrames(h.task));
  })();
  while (h.computes.length < 1) await turn();
  h.computes[0]!.fail(new Error("model broke"));
  await assert.rejects(run, /model broke/);
});

test("an abort stops the compute in flight; a consumer that stops early does too", async () => {
  const controller = new AbortController();
  const h = harness([0, 1, 2], { signal: controller.signal });
  const run = (async () => {
    for await (const _ of pipelineFrames(h.task));
  })();
  while (h.computes.length < 1) await turn();
  controller.abort();
  await assert.rejects(run, { name: "AbortError" });
  assert.equal(h.computes[0]!.signal.aborted, true);

  const early = harness([0, 1, 2]);
  const it = pipelineFrames(early.task);
  const first = it.next();
  while (early.computes.length < 1) await turn();
  early.computes[0]!.finish();
  await first;
  assert.equal(early.computes[2]!.signal.aborted, false);
  await it.return(undefined);
  assert.equal(early.computes[2]!.signal.aborted, true);

  await assert.rejects(pipelineFrames(harness([0], { signal: AbortSignal.abort() }).task).next(), { name: "AbortError" });
});

test("frame N's encoding overlaps N+1's compute; busy time is compute plus encoding; the device is reported free when the last compute ends", async () => {
  const encodes: Array<{ index: number; finish: () => void }> = [];
  const busy: number[] = [];
  let deviceDone = 0;
  const h = harness([0, 1, 2], {
    encode: (frame, index) =>
      new Promise((resolve) => encodes.push({ index, finish: () => resolve({ frame: { index, data: frame.data.slice(0, 1), format: "png" }, seconds: 0.25 }) })),
    onBusy: (s) => busy.push(s),
    onDeviceDone: () => deviceDone++,
  });
  const out: number[] = [];
  const drain = (async () => {
    for await (const f of pipelineFrames(h.task)) out.push(f.index);
  })();
  while (h.computes.length < 2) await turn();
  h.computes[0]!.finish();
  while (h.computes.length < 3) await turn();
  // Frame 0 is being encoded while 1 computes and 2 waits behind it; nothing was handed over yet.
  assert.deepEqual(encodes.map((e) => e.index), [0]);
  assert.deepEqual(out, []);
  h.computes[1]!.finish();
  h.computes[2]!.finish();
  await turn();
  await turn();
  // Every compute has ended: the device is free although no frame's encoding has finished.
  assert.equal(deviceDone, 1);
  assert.deepEqual(encodes.map((e) => e.index), [0, 1, 2]);
  for (const e of encodes) e.finish();
  await drain;
  assert.deepEqual(out, [0, 1, 2]);
  assert.deepEqual(busy, [1.25, 1.25, 1.25]);
  assert.equal(deviceDone, 1);
});
