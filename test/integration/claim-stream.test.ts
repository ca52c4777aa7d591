// Claims over one long-lived bidirectional stream (AgentGateway.ClaimStream:
// coordinator/grpc/claim-stream-handler.ts, agent/grpc/claim-stream.ts) with a
// real grpc-js server and client on loopback and a real store: answers
// matched by request id in and out of order, one stream for many claims, a
// stream cut mid-claim falling back to the unary Claim without losing or
// doubling a claim, a coordinator restart, and an older coordinator without
// the method.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ClaimStream } from "../../agent/grpc/claim-stream.ts";
import { answerClaim } from "../../coordinator/grpc/agent-gateway-handler.ts";
import { ClaimStreams } from "../../coordinator/grpc/claim-stream-handler.ts";
import { stopGrpcServer } from "../../coordinator/grpc/grpc-server.ts";
import type { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import type { ClaimRequest, ClaimResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { AgentGatewayClient } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { credentials } from "@grpc/grpc-js";
import { startCutProxy } from "../helpers/cut-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { setupSink } from "../helpers/sink-fixture.ts";
import { queueChunk } from "../helpers/store-fixture.ts";
import { GRPC_CHANNEL_OPTIONS } from "../../shared/grpc-options.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { freePort } from "../support/free-port.ts";

// setupSink starts an attempt on the first chunk; the tests claim the four others.
const FIVE = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]] as const;

/** A claim stream to `address` that reopens at once after a break (the agent waits a second). */
function claimStreamTo(t: import("node:test").TestContext, address: string) {
  const client = new CoordinatorClient(address);
  defer(t, () => client.close());
  const stream = new ClaimStream({ open: () => client.gateway.claimStream(), unary: (ask) => client.unaryClaim(ask), answerWithinMs: 15_000, reopenAfterMs: 0 });
  defer(t, () => stream.close());
  return { client, stream };
}

const attemptsOf = (s: ReturnType<typeof setupSink>, chunkId: string): number =>
  (s.store.db.prepare(`SELECT COUNT(*) AS n FROM attempts WHERE chunk_id = ?`).get(chunkId) as { n: number }).n;

test("claims on one stream: each answer matched to its claim, in order and out of order, with the unary call's answers", async (t) => {
  const s = setupSink(t, { chunks: FIVE });
  const ids = s.chunks.slice(1).map((c) => c.id);
  // The first chunk's answer is held until the others are answered: answers leave out of the order asked.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, { streamsOf: (claims) =>
    new ClaimStreams(async (req) => {
      if (req.chunkId === ids[1]) await held;
      return answerClaim(claims, req);
    }) },
  );
  const agent = s.agent.id;
  const dispatches = ids.map((id) => (id === ids[0] ? "" : queueChunk(s.store, id)));

  // In order: one claim at a time, each on the same stream.
  const first = await g.client.claim(agent, ids[2]!, dispatches[2]!, 1);
  assert.equal(first.skip, false, first.reason);
  assert.equal(s.store.chunks.get(ids[2]!)?.currentAttemptId, first.attemptId);
  assert.equal(JSON.parse(first.workJson).chunkId, ids[2]);

  // Out of order: three in flight, the held one answered last; each gets its own chunk's answer.
  const order: string[] = [];
  const note = <T>(id: string, p: Promise<T>) => p.then((r) => (order.push(id), r));
  const inFlight = [
    note(ids[1]!, g.client.claim(agent, ids[1]!, dispatches[1]!, 1)),
    note(ids[3]!, g.client.claim(agent, ids[3]!, dispatches[3]!, 1)),
    note(ids[0]!, g.client.claim(agent, ids[0]!, "dsp_none", 1)), // chunk 0 is pending: a skip, as Claim answers it
  ];
  await eventually(() => order.length >= 2, "the two claims that are not held to be answered", 10_000);
  release();
  const [a1, a3, a0] = (await Promise.all(inFlight)) as [ClaimResponse, ClaimResponse, ClaimResponse];
  assert.deepEqual(order, [ids[3], ids[0], ids[1]], "answers came as their claims committed, the held one last");
  assert.equal(a1.skip, false, a1.reason);
  assert.equal(JSON.parse(a1.workJson).chunkId, ids[1]);
  assert.equal(s.store.chunks.get(ids[1]!)?.currentAttemptId, a1.attemptId);
  assert.equal(a3.skip, false, a3.reason);
  assert.equal(s.store.chunks.get(ids[3]!)?.currentAttemptId, a3.attemptId);
  assert.deepEqual({ skip: a0.skip, reason: a0.reason }, { skip: true, reason: "chunk is pending" });

  // The same claim again: the stream answers it as the unary call does.
  const again = await g.client.claim(agent, ids[2]!, dispatches[2]!, 2);
  const unary = await g.client.unaryClaim({ agentId: agent, chunkId: ids[2]!, dispatchId: dispatches[2]!, delivery: 3 });
  assert.deepEqual(again, unary);
  assert.deepEqual({ skip: again.skip, reason: again.reason }, { skip: true, reason: "chunk is running" });
  assert.deepEqual(g.client.claims.stats, { streamed: 5, unary: 0, breaks: 0 }, "every claim on the stream, none over the unary call");
  assert.equal(g.streams.size, 1, "one stream for all of them");
  for (const id of ids.slice(1)) assert.equal(attemptsOf(s, id), 1);
});

test("a stream cut mid-claim: the claims in flight go over the unary call; a claim taken before the cut is not taken twice, one not taken is taken once", async (t) => {
  const s = setupSink(t, { chunks: FIVE });
  const ids = s.chunks.slice(1).map((c) => c.id);
  const dispatches = ids.map((id) => queueChunk(s.store, id));
  let proxy!: Awaited<ReturnType<typeof startCutProxy>>;
  const cutOn = new Set<string>([ids[0]!, ids[1]!]);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, { streamsOf: (claims) =>
    new ClaimStreams(async (req) => {
      if (!cutOn.delete(req.chunkId)) return answerClaim(claims, req);
      // Chunk 0: taken and committed, and then the link goes before its answer arrives.
      // Chunk 1: the link goes before the claim is taken (the error answer is what the cut swallows).
      proxy.cutAfter(1);
      if (req.chunkId === ids[0]) return answerClaim(claims, req);
      throw new Error("never seen by the agent");
    }) },
  );
  proxy = await startCutProxy(t, `127.0.0.1:${g.port}`);
  const { stream } = claimStreamTo(t, proxy.address);

  const taken = await stream.claim({ agentId: s.agent.id, chunkId: ids[0]!, dispatchId: dispatches[0]!, delivery: 1 });
  assert.equal(proxy.cuts, 1, "the link was cut under the answer");
  assert.deepEqual({ skip: taken.skip, reason: taken.reason }, { skip: true, reason: "chunk is running" }, "the unary retry finds the claim the stream's lost answer made, as a redelivered message does");
  assert.equal(attemptsOf(s, ids[0]!), 1, "taken once");
  assert.equal(s.store.chunks.get(ids[0]!)?.state, "running");

  const retried = await stream.claim({ agentId: s.agent.id, chunkId: ids[1]!, dispatchId: dispatches[1]!, delivery: 1 });
  assert.equal(proxy.cuts, 2);
  assert.equal(retried.skip, false, retried.reason);
  assert.equal(s.store.chunks.get(ids[1]!)?.currentAttemptId, retried.attemptId);
  assert.equal(attemptsOf(s, ids[1]!), 1, "taken once, over the unary call");

  // The next claim opens a new stream on a fresh connection.
  const after = await stream.claim({ agentId: s.agent.id, chunkId: ids[2]!, dispatchId: dispatches[2]!, delivery: 1 });
  assert.equal(after.skip, false, after.reason);
  assert.deepEqual(stream.stats, { streamed: 1, unary: 2, breaks: 2 });
});

test("a coordinator restart: the stream ends as the coordinator stops (without holding its graceful stop), claims wait over the unary call, and a new stream opens on the new coordinator", async (t) => {
  const s = setupSink(t, { chunks: FIVE });
  const ids = s.chunks.slice(1).map((c) => c.id);
  const dispatches = ids.map((id) => queueChunk(s.store, id));
  const port = await freePort();
  const first = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, port);
  const { stream } = claimStreamTo(t, `127.0.0.1:${port}`);
  const ask = (i: number) => ({ agentId: s.agent.id, chunkId: ids[i]!, dispatchId: dispatches[i]!, delivery: 1 });

  assert.equal((await stream.claim(ask(0))).skip, false);
  assert.equal(first.streams.size, 1);
  // A grace far beyond the test's time: the stop completes only because the open stream was ended.
  first.streams.close();
  await stopGrpcServer(first.server, 600_000);
  assert.equal(first.streams.size, 0);

  // The coordinator is down: the claim waits (the unary call's settle wait) until the new one listens.
  let settled = false;
  const waiting = stream.claim(ask(1)).finally(() => (settled = true));
  await sleep(800);
  assert.equal(settled, false, "the claim waits for the coordinator");
  const second = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, port);
  const answer = await waiting;
  assert.equal(answer.skip, false, answer.reason);
  assert.equal(s.store.chunks.get(ids[1]!)?.currentAttemptId, answer.attemptId);

  assert.equal((await stream.claim(ask(2))).skip, false);
  assert.equal(second.streams.size, 1, "a new stream on the new coordinator");
  assert.equal(stream.stats.streamed, 2);
  for (const id of ids.slice(0, 3)) assert.equal(attemptsOf(s, id), 1);
});

test("a coordinator without ClaimStream (UNIMPLEMENTED): claims go over the unary call, and the stream is not tried again", async (t) => {
  const s = setupSink(t, { chunks: FIVE });
  const ids = s.chunks.slice(1).map((c) => c.id);
  const dispatches = ids.map((id) => queueChunk(s.store, id));
  // An older coordinator: its gateway has no ClaimStream method, so grpc-js answers UNIMPLEMENTED.
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, { streamsOf: (claims) => {
    const streams = new ClaimStreams((req: ClaimRequest) => answerClaim(claims as ClaimService, req));
    Object.defineProperty(streams, "handler", { value: undefined });
    return streams;
  } });
  const { stream } = claimStreamTo(t, `127.0.0.1:${g.port}`);
  for (let i = 0; i < 3; i++) {
    const r = await stream.claim({ agentId: s.agent.id, chunkId: ids[i]!, dispatchId: dispatches[i]!, delivery: 1 });
    assert.equal(r.skip, false, r.reason);
    assert.equal(s.store.chunks.get(ids[i]!)?.currentAttemptId, r.attemptId);
  }
  assert.deepEqual(stream.stats, { streamed: 0, unary: 3, breaks: 1 }, "one try of the stream, then unary for good");
});

test("at coordinator stop, a stream is ended by the coordinator with its claims in flight answered first", async (t) => {
  const s = setupSink(t, { chunks: FIVE });
  const ids = s.chunks.slice(1).map((c) => c.id);
  const dispatches = ids.map((id) => queueChunk(s.store, id));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered = false;
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, { streamsOf: (claims) =>
    new ClaimStreams(async (req) => {
      entered = true;
      await held;
      return answerClaim(claims, req);
    }) },
  );
  const gateway = new AgentGatewayClient(`127.0.0.1:${g.port}`, credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
  defer(t, () => gateway.close());
  const call = gateway.claimStream();
  const answers: string[] = [];
  call.on("data", (a: { requestId: number; claim?: { attemptId: string } }) => answers.push(`${a.requestId}:${a.claim?.attemptId ?? ""}`));
  const ended = new Promise<{ code: number; details: string }>((resolve) => call.on("error", (err: { code: number; details: string }) => resolve(err)));
  call.write({ agentId: s.agent.id, chunkId: ids[0]!, dispatchId: dispatches[0]!, delivery: 1, requestId: 7, next: false, nextKey: "" });
  await eventually(() => entered, "the claim to reach the coordinator's stream handler", 10_000);
  g.streams.close();
  release();
  const err = await ended;
  assert.equal(err.code, 14, `UNAVAILABLE: ${err.details}`);
  assert.equal(answers.length, 1, "the claim in flight was answered before the stream ended");
  assert.equal(answers[0], `7:${s.store.chunks.get(ids[0]!)?.currentAttemptId}`);
});

test("an answer overdue on the stream fails that claim as a unary deadline would; the stream is dropped and its other claims go over the unary call", async (t) => {
  const s = setupSink(t, { chunks: FIVE });
  const ids = s.chunks.slice(1).map((c) => c.id);
  const dispatches = ids.map((id) => queueChunk(s.store, id));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  defer(t, () => release());
  // The coordinator never answers on the stream (a stalled stream); the unary call still works.
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, { streamsOf: (claims) =>
    new ClaimStreams(async (req) => {
      await held;
      return answerClaim(claims, req);
    }) },
  );
  const client = new CoordinatorClient(`127.0.0.1:${g.port}`);
  defer(t, () => client.close());
  const stream = new ClaimStream({ open: () => client.gateway.claimStream(), unary: (ask) => client.unaryClaim(ask), answerWithinMs: 300, reopenAfterMs: 60_000 });
  defer(t, () => stream.close());
  const ask = (i: number) => ({ agentId: s.agent.id, chunkId: ids[i]!, dispatchId: dispatches[i]!, delivery: 1 });

  const overdue = stream.claim(ask(0));
  const other = stream.claim(ask(2));
  await assert.rejects(overdue, (err: { code?: number }) => err.code === 4, "DEADLINE_EXCEEDED, as a unary claim past its deadline");
  assert.equal(stream.stats.breaks, 1);
  const moved = await other;
  assert.equal(moved.skip, false, moved.reason);
  assert.equal(s.store.chunks.get(ids[2]!)?.currentAttemptId, moved.attemptId, "the other claim in flight was made over the unary call");
  // Within the reopen delay the next claim goes straight over the unary call.
  const next = await stream.claim(ask(1));
  assert.equal(next.skip, false, next.reason);
  assert.deepEqual(stream.stats, { streamed: 0, unary: 2, breaks: 1 });
});
