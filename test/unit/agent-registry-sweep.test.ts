import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { AgentRegistry } from "../../coordinator/agents/agent-registry.ts";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { eventually } from "../helpers/eventually.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = (job) => ({
  input: { type: "generated", width: 8, height: 8, frames: job.frameEnd - job.frameStart + 1, seed: job.seed },
  steps: [{ id: "grade", kind: "model", model: "test-model", modelSha256: job.modelSha256, window: null }],
});

/** Agents a and b online, each running an attempt; c offline with a running attempt row (its loss is not the orphan sweep's job). */
function setup(t: TestContext) {
  const farm = seedFarm(t, { chunks: [[0, 4], [5, 9], [10, 14]] });
  const clock = manualClock(50_000);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, clock.now, testLog(), () => undefined);
  const registry = new AgentRegistry(farm.store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined }, clock.now, testLog(), () => undefined);
  t.after(() => registry.stop());
  const a = farm.agent;
  const b = insertAgent(farm.store, { id: "agt_b" });
  const c = insertAgent(farm.store, { id: "agt_c", state: "offline" });
  const claim = (agentId: string, chunkId: string): string => {
    const r = claims.claim(agentId, chunkId, queueChunk(farm.store, chunkId));
    assert.equal(r.skip, false);
    return (r as { attemptId: string }).attemptId;
  };
  const attA = claim(a.id, farm.chunks[0]!.id);
  const attB = claim(b.id, farm.chunks[1]!.id);
  farm.store.attempts.insert({ id: "att_c", chunkId: farm.chunks[2]!.id, jobId: farm.job.id, agentId: c.id, createdAt: clock.now() });
  const beat = (agentId: string, attemptId?: string) =>
    registry.heartbeat({ agentId, name: agentId, status: attemptId ? "busy" : "idle", ...(attemptId ? { attemptId } : {}), seq: 0, sentAtMs: clock.now() } as Parameters<AgentRegistry["heartbeat"]>[0]);
  return { ...farm, clock, registry, a, b, attA, attB, beat };
}

test("the sweep loses exactly the running attempts of online agents whose heartbeats stopped naming them (one query for all agents)", (t) => {
  const { store, registry, clock, a, b, attA, attB, beat } = setup(t);
  const limit = DEFAULT_FARM_POLICY.agentTimeoutMs + DEFAULT_FARM_POLICY.heartbeatMs;
  for (let waited = 0; waited <= limit; waited += DEFAULT_FARM_POLICY.heartbeatMs) {
    clock.advance(DEFAULT_FARM_POLICY.heartbeatMs);
    beat(a.id, attA);
    beat(b.id);
    assert.deepEqual(registry.sweep(), [], "both agents are alive");
  }
  assert.equal(store.attempts.get(attA)?.state, "running", "named in a's heartbeats");
  assert.equal(store.attempts.get(attB)?.state, "lost", "b's heartbeats stopped naming it");
  assert.match(store.attempts.get(attB)?.error ?? "", /agent agt_b is no longer working on attempt/);
  assert.equal(store.attempts.get("att_c")?.state, "running", "an offline agent's attempts are not the orphan sweep's");
});

test("heartbeats' last_seen is written in batches: by the sweep before it judges, and by a timer within a quarter heartbeat", async (t) => {
  const { store, registry, clock, a, b, beat } = setup(t);
  const before = store.agents.get(a.id)?.lastSeen;
  clock.advance(700);
  beat(a.id);
  beat(b.id);
  assert.equal(store.agents.get(a.id)?.lastSeen, before, "not one autocommitted write per heartbeat");
  registry.sweep();
  assert.equal(store.agents.get(a.id)?.lastSeen, clock.now(), "written before the sweep judges");
  assert.equal(store.agents.get(b.id)?.lastSeen, clock.now());

  // An agent whose last heartbeat is old in the store but recent in memory is not marked offline.
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs);
  beat(a.id);
  clock.advance(10);
  assert.deepEqual(registry.sweep(), [b.id], "a's pending heartbeat counts; b is silent");

  clock.advance(100);
  beat(a.id);
  const at = clock.now();
  await eventually(() => store.agents.get(a.id)?.lastSeen === at, "the batch timer to write a's last_seen", 5000, 20);
});

test("an agent's first heartbeat since the coordinator started asks for a dispatch pass (work is placed only on agents heard since then); later ones do not", (t) => {
  const farm = seedFarm(t);
  const clock = manualClock(50_000);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, clock.now, testLog(), () => undefined);
  let passes = 0;
  const registry = new AgentRegistry(farm.store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined }, clock.now, testLog(), () => passes++);
  t.after(() => registry.stop());
  const beat = (): void => registry.heartbeat({ agentId: farm.agent.id, name: farm.agent.name, status: "idle", attemptId: null, seq: 0, sentAtMs: clock.now() });
  beat();
  assert.equal(passes, 1, "first heard: a pass");
  clock.advance(1000);
  beat();
  assert.equal(passes, 1, "heard before: no pass");
});
