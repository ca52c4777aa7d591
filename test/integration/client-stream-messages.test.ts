// coordinator/grpc/client-stream-messages.ts with a real grpc-js server and
// client on loopback: a client-streaming handler reads every message in
// order and answers, and (unlike `for await` over the call) the end of the
// messages neither destroys the call's stream nor emits an error on it; a
// handler that stops reading early still gets its refusal to the client.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { messagesOf } from "../../coordinator/grpc/client-stream-messages.ts";
import { listen, stopGrpcServer } from "../../coordinator/grpc/grpc-server.ts";
import { defer } from "../helpers/defer.ts";

const PATH = "/nightshift.test.Stream/Send";
const identity = (b: Buffer) => b;

interface Seen { messages: string[]; errors: unknown[]; destroyed: boolean }

async function server(t: TestContext, read: "for-await" | "messagesOf", stopAt?: string) {
  const seen: Seen[] = [];
  const s = new grpc.Server();
  defer(t, () => stopGrpcServer(s, 500));
  s.addService(
    { send: { path: PATH, requestStream: true, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    {
      send: (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const one: Seen = { messages: [], errors: [], destroyed: false };
        seen.push(one);
        call.on("error", (err) => one.errors.push(err));
        const source = read === "messagesOf" ? messagesOf<Buffer>(call) : (call as AsyncIterable<Buffer>);
        (async () => {
          for await (const m of source) {
            if (m.toString() === stopAt) throw new Error(`refused at ${stopAt}`);
            one.messages.push(m.toString());
          }
          // Checked after a turn: Node's iterator destroys on a next tick.
          await new Promise((r) => setImmediate(r));
          one.destroyed = call.destroyed;
        })()
          .then(() => callback(null, Buffer.from(one.messages.join(","))))
          .catch((err: Error) => callback({ code: grpc.status.FAILED_PRECONDITION, details: err.message }));
      },
    },
  );
  const port = await listen(s, "127.0.0.1", 0, grpc.ServerCredentials.createInsecure());
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  defer(t, () => client.close());
  const send = (parts: string[]) =>
    new Promise<string>((resolve, reject) => {
      const call = client.makeClientStreamRequest(PATH, identity, identity, (err, res) => (err ? reject(err) : resolve(res?.toString() ?? "")));
      for (const p of parts) call.write(Buffer.from(p));
      call.end();
    });
  return { seen, send };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test("every message, in order; the end of the messages makes no error and leaves the stream to the call", async (t) => {
  const s = await server(t, "messagesOf");
  const parts = Array.from({ length: 40 }, (_, i) => `m${i}`);
  assert.equal(await s.send(parts), parts.join(","));
  assert.equal(await s.send(["a"]), "a");
  await settle();
  assert.deepEqual(s.seen.map((x) => x.messages), [parts, ["a"]]);
  assert.deepEqual(s.seen.map((x) => x.errors.length), [0, 0]);
  assert.deepEqual(s.seen.map((x) => x.destroyed), [false, false]);
});

test("what it replaces: for await over the call destroys it with an error at the end of every stream's messages", async (t) => {
  const s = await server(t, "for-await");
  assert.equal(await s.send(["a", "b"]), "a,b");
  await settle();
  assert.equal(s.seen[0]?.destroyed, true);
  assert.ok((s.seen[0]?.errors.length ?? 0) >= 1, "an AbortError at least");
});

test("a handler that stops reading early still answers with its refusal", async (t) => {
  const s = await server(t, "messagesOf", "m3");
  await assert.rejects(s.send(["m0", "m1", "m2", "m3", "m4", "m5"]), (err: grpc.ServiceError) => err.code === grpc.status.FAILED_PRECONDITION && /refused at m3/.test(err.details));
  // The connection is fine for the next call.
  assert.equal(await s.send(["m0"]), "m0");
  await settle();
  assert.deepEqual(s.seen[0]?.messages, ["m0", "m1", "m2"]);
});
