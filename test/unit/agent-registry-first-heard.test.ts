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
test("an agent known before the coordinator started is logged once, at info, when first heard, with ms since the start; one that joined since is not", async (t) => {
  const farm = seedFarm(t);
  const clock = manualClock(50_000);
  const lines: Array<{ msg: string; agentId?: string; msSinceStart?: number }> = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => ({ input: { type: "generated", width: 8, height: 8, frames: 1, seed: 1 }, steps: [] }), clock.now, testLog(), () => undefined);
  const registry = new AgentRegistry(farm.store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined }, clock.now, log, () => undefined);
  t.after(() => registry.stop());
  // As after a restart: the start-up repair touched every online agent's last_seen (recover-after-restart.ts).
  farm.store.agents.touch(farm.agent.id, clock.now());
  const { id: _id, state: _state, firstSeen: _f, lastSeen: _l, ...info } = insertAgent(farm.store, { id: "agt_new" });
  const since = await registry.join({ ...info, agentId: "agt_new" }); // joined after the start: "agent joined" says it
  const beat = (agentId: string): void => registry.heartbeat({ agentId, name: agentId, status: "idle", attemptId: null, seq: 0, sentAtMs: clock.now() });
  clock.advance(1_234);
  beat(farm.agent.id);
  clock.advance(500);
  beat(farm.agent.id);
  beat(since.id);
  const heard = lines.filter((l) => l.msg === "agent first heard since the coordinator started");
  assert.deepEqual(heard.map((l) => [l.agentId, l.msSinceStart]), [[farm.agent.id, 1_234]]);
});
