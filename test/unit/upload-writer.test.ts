import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { writerUntil } from "../../agent/grpc/upload-stream.ts";
import type { UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";

const msg: UploadMessage = { uploadId: 0, body: { $case: "cancel", value: true } };

/** A result to settle by hand, and a call that is always full (send returns false until 'drain'). */
function fullCall() {
  let settle!: { resolve: (v: unknown) => void; reject: (e: unknown) => void };
  const result = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
  const call = new EventEmitter();
  const sent: UploadMessage[] = [];
  const write = writerUntil(result, "answered early", (m) => (sent.push(m), false), call);
  return { settle, call, sent, write };
}

test("a write waiting for 'drain' when the commit's answer comes resolves: its message was taken, and the answer came after it", async () => {
  const c = fullCall();
  const waiting = c.write(msg);
  c.settle.resolve({ committed: true });
  await waiting; // on main this rejected with "answered early", failing an upload that had committed
  assert.equal(c.sent.length, 1);
  assert.equal(c.call.listenerCount("drain"), 0, "no drain listener left behind");
  await assert.rejects(c.write(msg), /answered early/, "a write after the answer is refused");
  assert.equal(c.sent.length, 1, "and not sent");
});

test("a write waiting for 'drain' when the upload is refused rejects with the refusal", async () => {
  const c = fullCall();
  const waiting = c.write(msg);
  const refusal = Object.assign(new Error("9 FAILED_PRECONDITION: stale"), { code: 9 });
  c.settle.reject(refusal);
  await assert.rejects(waiting, (e) => e === refusal);
  await assert.rejects(c.write(msg), (e) => e === refusal);
});

test("a write waiting for 'drain' resolves at 'drain' and leaves no listener", async () => {
  const c = fullCall();
  const waiting = c.write(msg);
  c.call.emit("drain");
  await waiting;
  assert.equal(c.call.listenerCount("drain"), 0);
  c.settle.resolve({ committed: true });
});
