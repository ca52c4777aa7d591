import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { status, type ServiceError } from "@grpc/grpc-js";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { JoinRequest } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { defer } from "../helpers/defer.ts";
import { startCoordinatorGrpc } from "../helpers/grpc-fixture.ts";
import { setupSink } from "../helpers/sink-fixture.ts";
import { queueChunk } from "../helpers/store-fixture.ts";
import { freePort } from "../support/free-port.ts";

test("a claim made while the coordinator is unreachable waits for it to come back instead of failing at once; join still fails fast", async (t) => {
  const s = setupSink(t);
  const chunk = s.chunks[1]!;
  const dispatchId = queueChunk(s.store, chunk.id);
  const port = await freePort();
  const client = new CoordinatorClient(`127.0.0.1:${port}`);
  defer(t, () => client.close());

  // Nothing listens yet: a join is refused at once (a refused agent must hear why), putting the channel in backoff.
  await assert.rejects(client.join(JoinRequest.fromPartial({ agentId: s.agent.id, name: "a" })), (err: ServiceError) => err.code === status.UNAVAILABLE);

  // The claim goes out while the coordinator is still down; the coordinator comes up 1.5 s later.
  let settled = false;
  const claim = client.claim(s.agent.id, chunk.id, dispatchId, 1).finally(() => (settled = true));
  await sleep(1500);
  assert.equal(settled, false, "the claim is still waiting, not failed");
  await startCoordinatorGrpc(t, s.store, s.sink, s.clock.now, port);

  const answer = await claim;
  assert.equal(answer.skip, false, `claimed: ${answer.reason}`);
  assert.equal(s.store.chunks.get(chunk.id)?.state, "running", "the chunk now runs under the new attempt");
  assert.equal(s.store.chunks.get(chunk.id)?.currentAttemptId, answer.attemptId);
});
