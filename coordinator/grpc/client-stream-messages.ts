import type { Readable } from "node:stream";

/**
 * Why this file exists: the messages of a client-streaming gRPC call, read
 * without the stream's end costing an error.
 *
 * grpc-js (1.14) hands a client-streaming handler a Duplex whose writable side
 * stays open until the call ends. `for await (const m of call)` finishes by
 * destroying a stream it did not see finish, so at the end of every upload
 * Node makes an AbortError (its stack captured: source-mapped under tsx),
 * emits it, and grpc-js's error listener calls end() on the destroyed stream,
 * which makes a second error. That was about 0.23 ms of the coordinator's
 * main thread per chunk in the scheduling bench's profile, and a fifth of an
 * upload's server CPU in bench/grpc-call-cost.bench.ts (README, "Per-call
 * cost of the claim and upload calls").
 *
 * Destroying that stream does nothing for the call: grpc-js's stream has no
 * _destroy, and the call ends with the handler's callback, as before. So the
 * messages are read with `destroyOnReturn: false`: the same messages, in the
 * same order, with the same flow control (nothing is read ahead of the loop),
 * and a loop that stops early (a refused upload) leaves the stream to the
 * callback's status, as a destroyed one was.
 */
export function messagesOf<T>(call: Readable): AsyncIterable<T> {
  return call.iterator({ destroyOnReturn: false }) as AsyncIterable<T>;
}
