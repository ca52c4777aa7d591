import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { AgentRegistry } from "../../coordinator/agents/agent-registry.ts";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

/**
 * After a restart the pool hold waits for the agents to be heard (lost-work-first.ts holdsPool); at the default info
 * level each agent known from before the start gets one line when first heard, with the time since the start.
 */
test("an agent known before the coordinator started is logged once, at info, when first heard, with ms since the start; one that joined since is not", (t) => {
  const farm = seedFarm(t);
  const clock = manualClock(50_000);
  const lines: Array<{ msg: string; agentId?: string; msSinceStart?: number }> = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => ({ input: { type: "generated", width: 8, height: 8, frames: 1, seed: 1 }, steps: [] }), clock.now, testLog(), () => undefined);
  const registry = new AgentRegistry(farm.store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined }, clock.now, log, () => undefined);
  t.after(() => registry.stop());
  const since = insertAgent(farm.store, { id: "agt_new", now: clock.now() + 10 }); // joined after the start
  const beat = (agentId: string): void => registry.heartbeat({ agentId, name: agentId, status: "idle", attemptId: null, seq: 0, sentAtMs: clock.now() });
  clock.advance(1_234);
  beat(farm.agent.id);
  clock.advance(500);
  beat(farm.agent.id);
  beat(since.id);
  const heard = lines.filter((l) => l.msg === "agent first heard since the coordinator started");
  assert.deepEqual(heard.map((l) => [l.agentId, l.msSinceStart]), [[farm.agent.id, 1_234]]);
});
