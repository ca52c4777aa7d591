import assert from "node:assert/strict";
import { test } from "node:test";
import { ExecutorSlot } from "../../agent/work/executor-slot.ts";

test("the executor slot lets one holder at a time, in the order they asked; release is idempotent", async () => {
  const slot = new ExecutorSlot();
  const order: string[] = [];
  const first = await slot.acquire(new AbortController().signal);
  const second = slot.acquire(new AbortController().signal).then((r) => (order.push("second"), r));
  const third = slot.acquire(new AbortController().signal).then((r) => (order.push("third"), r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], "nobody runs while the first holds it");
  assert.equal(slot.queued, 3);
  first();
  first(); // a second release (the runner's finally after finish) must not let the third in early
  const releaseSecond = await second;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ["second"]);
  releaseSecond();
  (await third)();
  assert.deepEqual(order, ["second", "third"]);
  assert.equal(slot.queued, 0);
});

test("a waiter aborted (drain, cancel) leaves the queue at once, and the one behind it still waits for the holder", async () => {
  const slot = new ExecutorSlot();
  const holder = await slot.acquire(new AbortController().signal);
  const abort = new AbortController();
  const waiting = slot.acquire(abort.signal);
  let behindGot = false;
  const behind = slot.acquire(new AbortController().signal).then((r) => ((behindGot = true), r));
  abort.abort(new Error("agent draining"));
  await assert.rejects(waiting, /agent draining/);
  await new Promise((r) => setImmediate(r));
  assert.equal(behindGot, false, "the aborted waiter did not open the slot for the one behind it");
  holder();
  (await behind)();
  assert.equal(slot.queued, 0);
  await assert.rejects(slot.acquire(AbortSignal.abort(new Error("already stopped"))), /already stopped/);
  assert.equal(slot.queued, 0);
});
