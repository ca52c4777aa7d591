import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { answerClaim } from "../../coordinator/grpc/agent-gateway-handler.ts";
import { ClaimRequest } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import type { ChunkRow } from "../../coordinator/store/chunks-table.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { queueChunk, seedFarm } from "../helpers/store-fixture.ts";

/**
 * The agent sends its work message's JetStream delivery count with each claim (ClaimRequest.delivery). A pool
 * message handed back by busy agents, or redelivered after an ack wait or a nak, is claimed at a delivery above 1;
 * the claim's log line names it, so how long a chunk went round before an agent took it is in the log. JetStream's
 * own limit (maxDeliveries) still ends a message that went round too often (dead-letter-watch.ts re-dispatches it).
 */
test("a claim of a message delivered before names its delivery on the claim's log line; a first delivery adds nothing", async (t) => {
  const farm = seedFarm(t);
  const lines: Array<{ msg: string; chunkId?: string; delivery?: number; reason?: string }> = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), manualClock(50_000).now, log, () => undefined);
  const [first, second] = farm.chunks as [ChunkRow, ChunkRow];
  const ask = (chunkId: string, dispatchId: string, delivery: number) => answerClaim(claims, ClaimRequest.fromPartial({ agentId: farm.agent.id, chunkId, dispatchId, delivery }));

  const handedBack = queueChunk(farm.store, first.id);
  assert.equal((await ask(first.id, handedBack, 5)).skip, false);
  assert.equal((await ask(first.id, handedBack, 6)).skip, true, "the same message again: refused");
  assert.equal((await ask(second.id, queueChunk(farm.store, second.id), 1)).skip, false);

  const claimed = lines.filter((l) => l.msg === "chunk claimed");
  assert.deepEqual(claimed.map((l) => [l.chunkId, l.delivery]), [[first.id, 5], [second.id, undefined]]);
  const skipped = lines.find((l) => l.msg === "claim skipped");
  assert.equal(skipped?.delivery, 6, "a refused claim's line names the delivery too");
});
