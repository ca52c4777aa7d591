import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { AgentRegistry, HEARD_GAP_BEATS } from "../../coordinator/agents/agent-registry.ts";
import { ClaimService } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

/** One agent, its registry, the gaps reported (agent id, gap in ms), and a heartbeat of that agent now. */
function gapFarm(t: TestContext) {
  const farm = seedFarm(t);
  const clock = manualClock(50_000);
  const gaps: Array<[string, number]> = [];
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, () => ({ input: null, steps: [] }), clock.now, testLog(), () => undefined);
  const hooks = { onJoined: async () => undefined, onHeardAfterGap: (id: string, ms: number) => void gaps.push([id, ms]) };
  const registry = new AgentRegistry(farm.store, claims, DEFAULT_FARM_POLICY, hooks, clock.now, testLog(), () => undefined);
  t.after(() => registry.stop());
  const beat = (): void => registry.heartbeat({ agentId: farm.agent.id, name: "a", status: "idle", attemptId: null, seq: 0, sentAtMs: clock.now() });
  return { farm, clock, gaps, registry, beat };
}

/**
 * An agent heard again after a gap in its heartbeats (its link cut, or the coordinator's NATS down) is reported, so
 * that work placed on it meanwhile is placed again (placed-take-back.ts heardAfterGap); late heartbeats are not.
 */
test("a heartbeat HEARD_GAP_BEATS periods or more after the agent's previous one is reported with the gap; the first and late ones are not", async (t) => {
  const { farm, clock, gaps, registry, beat } = gapFarm(t);
  const period = DEFAULT_FARM_POLICY.heartbeatMs;
  beat(); // the first since the start: no gap to speak of (a restart's first heartbeats)
  clock.advance(period);
  beat();
  clock.advance(HEARD_GAP_BEATS * period - 1); // late, not a gap
  beat();
  assert.deepEqual(gaps, []);
  clock.advance(HEARD_GAP_BEATS * period + 700);
  beat();
  assert.deepEqual(gaps, [[farm.agent.id, HEARD_GAP_BEATS * period + 700]]);
});

test("an agent's first heartbeat after an outage of the coordinator's NATS connection is reported, however short the gap", async (t) => {
  const { farm, clock, gaps, registry, beat } = gapFarm(t);
  beat();
  clock.advance(300);
  registry.busDown();
  clock.advance(400);
  registry.busBack();
  clock.advance(300);
  beat();
  clock.advance(1_000);
  beat(); // the next one is an ordinary heartbeat again
  assert.deepEqual(gaps, [[farm.agent.id, 1_000]]);
});
