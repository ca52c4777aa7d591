// A claim for the next chunk (ClaimRequest.next) whose answer the agent did not get: it asks again with the
// same key (ClaimRequest.next_key, agent/grpc/gateway-client.ts), and the coordinator answers with the attempt
// it took for that key while the attempt is live (coordinator/dispatch/next-claim-keys.ts) instead of taking a
// second chunk and leaving the first attempt to the heartbeat rule. A real grpc-js server with the real
// AgentGateway and ClaimService over a real store, the agent's own CoordinatorClient, and a loopback proxy that
// cuts the link under the answer after the claim committed.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import type { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { answerClaim } from "../../coordinator/grpc/agent-gateway-handler.ts";
import { ClaimStreams } from "../../coordinator/grpc/claim-stream-handler.ts";
import type { ClaimRequest, ClaimResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { startCutProxy } from "../helpers/cut-proxy.ts";
import { defer } from "../helpers/defer.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { setupSink } from "../helpers/sink-fixture.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { generatedJob, startTestCoordinator, tempDir } from "../support/farm.ts";
import { assertGeneratedJobDone } from "../support/assert-generated-job.ts";
import { pino } from "pino";

// setupSink starts an attempt on the first chunk ("att_live"); claims for the next chunk take the four others.
const FIVE = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]] as const;

/**
 * A coordinator whose claims for the next chunk are answered with the job's pending chunks in order, and
 * whose claim stream hands each `next` claim's committed answer to `after` (which may cut the link or throw).
 */
async function farmWithNext(t: TestContext, after: (req: ClaimRequest, answer: ClaimResponse) => ClaimResponse) {
  const s = setupSink(t, { chunks: FIVE });
  const pending = (): string[] => s.store.chunks.listByJob(s.job.id).filter((c) => c.state === "pending").map((c) => c.id);
  const g = await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, 0, {
    pickNext: (_agentId, max) => pending().slice(0, max),
    streamsOf: (claims: ClaimService) => new ClaimStreams(async (req) => {
      const answer = await answerClaim(claims, req);
      return req.next ? after(req, answer) : answer;
    }),
  });
  const live = (): string[] => s.store.attempts.runningForAgent(s.agent.id).map((a) => a.id).filter((id) => id !== "att_live");
  const chunkOf = (answer: ClaimResponse): string => (JSON.parse(answer.workJson) as { chunkId: string }).chunkId;
  return { s, g, pending, live, chunkOf };
}

test("a claim for the next chunk whose answer a broken claim stream lost: the agent's retry gets the same attempt, and no second chunk is taken", async (t) => {
  let proxy!: Awaited<ReturnType<typeof startCutProxy>>;
  let cut = true;
  const f = await farmWithNext(t, (_req, answer) => {
    // Taken and committed; the link goes before the answer reaches the agent.
    if (cut) proxy.cutAfter(1);
    cut = false;
    return answer;
  });
  proxy = await startCutProxy(t, `127.0.0.1:${f.g.port}`);
  const client = new CoordinatorClient(proxy.address);
  defer(t, () => client.close());
  const before = f.pending();

  const answer = await client.claimNext(f.s.agent.id);
  assert.equal(proxy.cuts, 1, "the link was cut under the answer");
  assert.deepEqual({ breaks: client.claims.stats.breaks, unary: client.claims.stats.unary }, { breaks: 1, unary: 1 }, "the claim was made again over the unary call");
  assert.equal(answer.skip, false, answer.reason);
  assert.deepEqual(f.live(), [answer.attemptId], "one attempt for the one ask: the one the lost answer carried");
  assert.equal(f.chunkOf(answer), before[0]);
  assert.deepEqual(f.pending(), before.slice(1), "no second chunk taken");
  assert.equal(f.s.store.chunks.get(before[0]!)?.currentAttemptId, answer.attemptId);

  // The key is spent with its answer: the next ask takes the next chunk.
  const next = await client.claimNext(f.s.agent.id);
  assert.equal(next.skip, false, next.reason);
  assert.equal(f.chunkOf(next), before[1]);
  assert.deepEqual(f.live().sort(), [answer.attemptId, next.attemptId].sort());
});

test("an ask answered with an error is asked again with its key: the same attempt while it is live; once that attempt is over, a fresh claim", async (t) => {
  let fail = 0;
  const f = await farmWithNext(t, (_req, answer) => {
    if (fail === 0) return answer;
    fail--;
    throw new Error("the answer is lost on its way");
  });
  const client = f.g.client;
  const before = f.pending();

  fail = 1;
  await assert.rejects(client.claimNext(f.s.agent.id), /the answer is lost on its way/);
  const taken = f.live();
  assert.equal(taken.length, 1, "the failed ask took a chunk");
  const again = await client.claimNext(f.s.agent.id);
  assert.equal(again.skip, false, again.reason);
  assert.equal(again.attemptId, taken[0], "asked again with the same key: the same attempt");
  assert.equal(f.chunkOf(again), before[0]);
  assert.deepEqual(f.pending(), before.slice(1));

  // A new ask (new key) whose answer is lost, and whose attempt is lost before the agent asks again: the repeat claims afresh.
  fail = 1;
  await assert.rejects(client.claimNext(f.s.agent.id), /the answer is lost on its way/);
  const second = f.live().find((id) => id !== again.attemptId);
  assert.ok(second, "the second ask took a chunk");
  assert.equal(f.g.claims.loseAttempt(second, "test: the attempt is over"), 1);
  const fresh = await client.claimNext(f.s.agent.id);
  assert.equal(fresh.skip, false, fresh.reason);
  assert.notEqual(fresh.attemptId, second, "an attempt that is over is not answered again");
  assert.equal(f.s.store.attempts.get(fresh.attemptId)?.state, "running");
  assert.deepEqual(f.live().sort(), [again.attemptId, fresh.attemptId].sort());
});

test("a real coordinator and agent: the claim stream cut under a next-chunk answer; the agent runs the chunk the lost answer named, and no attempt is left to be lost", async (t) => {
  const dir = tempDir(t, "ns-claim-next-key-");
  let proxy: Awaited<ReturnType<typeof startCutProxy>> | undefined;
  let armed = true;
  let answeredAgain = 0;
  // The coordinator's own log line "next chunk claimed" is written after the claim committed and before its
  // answer goes out on the stream: the link through the proxy goes then, under the answer.
  const log = pino({ level: "info" }, {
    write: (line: string) => {
      if (line.includes('"msg":"next chunk answered again (its answer was lost)"')) answeredAgain++;
      if (!armed || proxy === undefined || !line.includes('"msg":"next chunk claimed"')) return;
      armed = false;
      proxy.cutAfter(1);
    },
  });
  const coordinator = await startTestCoordinator(t, dir, {}, log);
  proxy = await startCutProxy(t, coordinator.address);
  await startLocalAgent(t, coordinator, dir, "solo", {}, proxy.address);
  const [W, H, N] = [32, 32, 16];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("next-key", N, W, H, 2)), dir);
  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
  const attempts = coordinator.store.chunks.listByJob(jobId).flatMap((c) => coordinator.store.attempts.listByChunk(c.id));
  t.diagnostic(`cuts ${proxy.cuts}, answered again ${answeredAgain}, attempts ${attempts.length}: ${attempts.map((a) => a.state).join(" ")}`);
  assert.equal(proxy.cuts, 1, "the link was cut under a next-chunk answer");
  assert.equal(answeredAgain, 1, "the agent's retry was answered with the attempt the lost answer carried");
  assert.deepEqual(attempts.filter((a) => a.state !== "committed").map((a) => `${a.id} ${a.state}`), [], "every attempt committed: none left running nowhere and lost");
});
