import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { AgentRegistry } from "../../coordinator/agents/agent-registry.ts";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { closedAgentOf } from "../../coordinator/nats/agent-disconnect-watch.ts";
import type { AgentProber, ProbeAnswer } from "../../coordinator/agents/agent-prober.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { insertAgent, queueChunk, seedFarm } from "../helpers/store-fixture.ts";
import { testLog } from "../helpers/test-log.ts";

const describeWork: WorkDescriber = (job) => ({
  input: { type: "generated", width: 8, height: 8, frames: job.frameEnd - job.frameStart + 1, seed: job.seed },
  steps: [{ id: "grade", kind: "model", model: "test-model", modelSha256: job.modelSha256, window: null }],
});

/** One online agent, heard from at 50 s, holding a running attempt on the first chunk; with `prober`, its health port is at 127.0.0.1:4100. */
function setup(t: TestContext, prober?: AgentProber) {
  const farm = seedFarm(t);
  const clock = manualClock(50_000);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, clock.now, testLog(), () => undefined);
  const offline: string[] = [];
  const registry = new AgentRegistry(farm.store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined, onOffline: (a) => offline.push(a.id) }, clock.now, testLog(), () => undefined, prober);
  if (prober) farm.store.agents.upsert({ ...farm.agent, agentId: farm.agent.id, address: "127.0.0.1:4100", now: clock.now() } as Parameters<typeof farm.store.agents.upsert>[0]);
  farm.store.agents.touch(farm.agent.id, clock.now());
  const chunk = farm.chunks[0]!;
  const r = claims.claim(farm.agent.id, chunk.id, queueChunk(farm.store, chunk.id));
  assert.equal(r.skip, false);
  const attemptId = (r as { attemptId: string }).attemptId;
  const beat = (natsConnection?: string) =>
    registry.heartbeat({ agentId: farm.agent.id, name: farm.agent.name, status: "busy", attemptId, seq: 0, sentAtMs: clock.now(), ...(natsConnection !== undefined && { natsConnection }) } as Parameters<AgentRegistry["heartbeat"]>[0]);
  return { ...farm, clock, registry, attemptId, chunk, offline, beat };
}

test("a closed NATS connection with no heartbeat after it: offline after one heartbeat period, not the full timeout", (t) => {
  const { store, registry, clock, agent, attemptId, chunk, offline } = setup(t);
  clock.advance(300);
  registry.connectionClosed(agent.id, "Read Error");
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs - 1);
  assert.deepEqual(registry.sweep(), [], "not before a heartbeat period has passed");
  clock.advance(1);
  assert.deepEqual(registry.sweep(), [agent.id]);
  assert.ok(DEFAULT_FARM_POLICY.heartbeatMs + 300 < DEFAULT_FARM_POLICY.agentTimeoutMs, "sooner than the heartbeat timeout");
  assert.equal(store.agents.get(agent.id)?.state, "offline");
  assert.equal(store.attempts.get(attemptId)?.state, "lost");
  assert.match(store.attempts.get(attemptId)?.error ?? "", /connection closed/);
  assert.equal(store.chunks.get(chunk.id)?.state, "pending");
  assert.deepEqual(offline, [agent.id]);
});

test("a heartbeat after the connection closed (the client reconnected) keeps the agent and its attempt", (t) => {
  const { store, registry, clock, agent, attemptId, beat } = setup(t);
  registry.connectionClosed(agent.id, "Client Closed");
  clock.advance(400);
  beat();
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs * 2);
  assert.deepEqual(registry.sweep(), []);
  assert.equal(store.agents.get(agent.id)?.state, "online");
  assert.equal(store.attempts.get(attemptId)?.state, "running");
});

test("the close of an earlier connection, reported after the agent is heard on a new one, is ignored; the close of the one it is heard on counts", (t) => {
  // The agent dropped a silent connection (cid 6) and dialled again (cid 9); the server reports cid 6 closed once
  // the link is back, just after the first heartbeat on cid 9. Counted, the agent would need another heartbeat
  // within one period of that report, and a late one would lose its attempt.
  const { store, registry, clock, agent, attemptId, beat, offline } = setup(t);
  beat("NSERVER/9");
  clock.advance(5);
  registry.connectionClosed(agent.id, "Client Closed", "NSERVER/6");
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs + 500);
  assert.deepEqual(registry.sweep(), [], "an earlier connection's close");
  assert.equal(store.attempts.get(attemptId)?.state, "running");
  beat("NSERVER/9");
  registry.connectionClosed(agent.id, "Read Error", "NSERVER/9");
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs);
  assert.deepEqual(registry.sweep(), [agent.id], "the close of the connection its heartbeats came on");
  assert.equal(store.attempts.get(attemptId)?.state, "lost");
  assert.deepEqual(offline, [agent.id]);
});

test("a close that names no connection, or an agent whose heartbeats name none (an earlier version), counts as before", (t) => {
  for (const [heardOn, closed] of [["NSERVER/9", undefined], [undefined, "NSERVER/6"]] as const) {
    const { registry, clock, agent, beat } = setup(t);
    beat(heardOn);
    registry.connectionClosed(agent.id, "Client Closed", closed);
    clock.advance(DEFAULT_FARM_POLICY.heartbeatMs);
    assert.deepEqual(registry.sweep(), [agent.id], `heard on ${heardOn}, closed ${closed}`);
  }
});

test("without a closed connection, heartbeat silence still takes the timeout", (t) => {
  const { store, registry, clock, agent, attemptId } = setup(t);
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs);
  assert.deepEqual(registry.sweep(), []);
  clock.advance(1);
  assert.deepEqual(registry.sweep(), [agent.id]);
  assert.match(store.attempts.get(attemptId)?.error ?? "", /stopped sending heartbeats/);
});

test("while the coordinator's NATS connection is down no agent times out, and the outage does not count as silence after", (t) => {
  const { store, registry, clock, agent, attemptId, beat } = setup(t);
  clock.advance(1000);
  registry.busDown();
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs * 3);
  assert.deepEqual(registry.sweep(), [], "silence while the bus is down proves nothing");
  assert.equal(store.attempts.get(attemptId)?.state, "running");
  registry.busBack();
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs - 1000);
  assert.deepEqual(registry.sweep(), [], "1 s silent before the outage plus 3 s after: not yet");
  beat();
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs);
  assert.deepEqual(registry.sweep(), [], "the agent heartbeats again: kept");
  assert.equal(store.attempts.get(attemptId)?.state, "running");
  assert.equal(store.agents.get(agent.id)?.state, "online");
});

test("a heartbeat while the bus is taken for down ends the bus-down state: another silent agent times out again", (t) => {
  const { store, registry, clock, agent, attemptId } = setup(t);
  const other = insertAgent(store, { id: "agt-other", now: clock.now() });
  registry.busDown();
  clock.advance(2_000);
  registry.heartbeat({ agentId: other.id, name: other.name, status: "idle", attemptId: null, seq: 0, sentAtMs: clock.now() } as Parameters<AgentRegistry["heartbeat"]>[0]);
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs + 1);
  assert.ok(registry.sweep().includes(agent.id));
  assert.equal(store.attempts.get(attemptId)?.state, "lost");
});

test("after the bus is back, an agent silent since before the outage times out once its silence outside the outage passes the timeout", (t) => {
  const { store, registry, clock, agent, attemptId } = setup(t);
  clock.advance(2_000);
  registry.busDown();
  clock.advance(10_000);
  registry.busBack();
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs - 2_000);
  assert.deepEqual(registry.sweep(), [], "2 s before + 2 s after is not more than the timeout");
  clock.advance(1);
  assert.deepEqual(registry.sweep(), [agent.id]);
  assert.equal(store.attempts.get(attemptId)?.state, "lost");
});

test("an agent that joins again is a new process: its earlier running attempts are lost at once, the agent stays online", async (t) => {
  const { store, registry, agent, attemptId, chunk } = setup(t);
  const { id: _id, state: _state, firstSeen: _f, lastSeen: _l, ...info } = agent;
  const row = await registry.join({ ...info, agentId: agent.id });
  assert.equal(row.state, "online");
  assert.equal(store.attempts.get(attemptId)?.state, "lost");
  assert.match(store.attempts.get(attemptId)?.error ?? "", /started again/);
  assert.equal(store.chunks.get(chunk.id)?.state, "pending");
});

test("disconnect advisories: only an agent's user whose own side went away counts", () => {
  const adv = (reason: string, nameTag?: string) => ({
    type: "io.nats.server.advisory.v1.client_disconnect",
    reason,
    client: { name: "nightshift-agent-a", user: "UABC", ...(nameTag !== undefined ? { name_tag: nameTag } : {}) },
  });
  // As nats-server 2.9 sends them (the server's id, the connection's client id: those of its INFO to the client).
  const withIds = { ...adv("Client Closed", "agent-agt-123"), server: { name: "n1", host: "0.0.0.0", id: "NSERVER" }, client: { ...adv("", "agent-agt-123").client, id: 6 } };
  assert.deepEqual(closedAgentOf(withIds), { agentId: "agt-123", reason: "Client Closed", connection: "NSERVER/6" });
  assert.deepEqual(closedAgentOf(adv("Read Error", "agent-agt-123")), { agentId: "agt-123", reason: "Read Error" });
  assert.deepEqual(closedAgentOf(adv("Client Closed", "agent-agt-123")), { agentId: "agt-123", reason: "Client Closed" });
  assert.equal(closedAgentOf(adv("Server Shutdown", "agent-agt-123")), undefined, "the server's own shutdown: the client reconnects");
  assert.equal(closedAgentOf(adv("Stale Connection", "agent-agt-123")), undefined);
  assert.equal(closedAgentOf(adv("Read Error", "nightshift-coordinator")), undefined, "not an agent's user");
  assert.equal(closedAgentOf(adv("Read Error")), undefined, "no user name");
  assert.equal(closedAgentOf({ ...adv("Read Error", "agent-agt-1"), type: "io.nats.server.advisory.v1.client_connect" }), undefined);
  assert.equal(closedAgentOf("garbage"), undefined);
});

/** A prober that answers what the test says, when the test says (answer()); records what it was asked. */
function fakeProber(): AgentProber & { asked: string[]; pending(): number; answer(a: ProbeAnswer): Promise<void> } {
  const waiting: Array<(a: ProbeAnswer) => void> = [];
  const asked: string[] = [];
  return {
    asked,
    pending: () => waiting.length,
    probe: (address) => {
      asked.push(address);
      return new Promise<ProbeAnswer>((resolve) => waiting.push(resolve));
    },
    answer: async (a) => {
      const r = waiting.shift();
      assert.ok(r, "a probe was asked for");
      r(a);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

test("a silent agent whose host answers the probe (stopped or starved) stays online past agentTimeoutMs with its attempt, and is back on its next heartbeat", async (t) => {
  const prober = fakeProber();
  const { store, registry, clock, agent, attemptId, beat, offline } = setup(t, prober);
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs * 1.5);
  registry.sweep();
  assert.deepEqual(prober.asked, [], "not probed within one and a half heartbeat periods");
  clock.advance(1);
  registry.sweep();
  assert.deepEqual(prober.asked, ["127.0.0.1:4100"], "probed the address it joined with");
  await prober.answer("answered");
  // Keep answering, one probe per heartbeat period, until well past the timeout and the orphaned-attempt limit.
  for (let ms = 0; ms < DEFAULT_FARM_POLICY.agentTimeoutMs * 2; ms += 500) {
    clock.advance(500);
    assert.deepEqual(registry.sweep(), []);
    if (prober.pending() > 0) await prober.answer("answered");
  }
  assert.ok(prober.asked.length >= 6, `probed again while the silence lasted (${prober.asked.length} probes)`);
  assert.equal(store.agents.get(agent.id)?.state, "online");
  assert.equal(store.attempts.get(attemptId)?.state, "running", "its work is not requeued");
  beat();
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs);
  assert.deepEqual(registry.sweep(), []);
  assert.equal(store.attempts.get(attemptId)?.state, "running");
  assert.deepEqual(offline, []);
});

test("after a silence its host answered through, the agent's first heartbeats need not name its attempt yet (claim answers may still wait in its socket)", async (t) => {
  const prober = fakeProber();
  const { store, registry, clock, agent, attemptId } = setup(t, prober);
  for (let ms = 0; ms < DEFAULT_FARM_POLICY.agentTimeoutMs * 2; ms += 500) {
    clock.advance(500);
    registry.sweep();
    if (prober.pending() > 0) await prober.answer("answered");
  }
  const idle = () => registry.heartbeat({ agentId: agent.id, name: agent.name, status: "busy", attemptId: null, seq: 1, sentAtMs: clock.now() } as Parameters<AgentRegistry["heartbeat"]>[0]);
  idle();
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs);
  idle();
  assert.deepEqual(registry.sweep(), []);
  assert.equal(store.attempts.get(attemptId)?.state, "running", "a fresh orphan limit from the end of the silence");
  clock.advance(DEFAULT_FARM_POLICY.agentTimeoutMs + DEFAULT_FARM_POLICY.heartbeatMs);
  idle();
  registry.sweep();
  assert.equal(store.attempts.get(attemptId)?.state, "lost", "heard for longer than the limit without naming it: orphaned");
});

test("a starved agent is kept only up to 3 x agentTimeoutMs: then lost though its host answers", async (t) => {
  const prober = fakeProber();
  const { store, registry, clock, agent, attemptId } = setup(t, prober);
  let gone: string[] = [];
  for (let ms = 0; ms < DEFAULT_FARM_POLICY.agentTimeoutMs * 3 && gone.length === 0; ms += 500) {
    clock.advance(500);
    gone = registry.sweep();
    if (prober.pending() > 0) await prober.answer("answered");
  }
  assert.deepEqual(gone, []);
  clock.advance(500);
  assert.deepEqual(registry.sweep(), [agent.id]);
  assert.equal(store.attempts.get(attemptId)?.state, "lost");
  assert.match(store.attempts.get(attemptId)?.error ?? "", /too long/);
});

test("a refused probe (the process is gone) makes the agent offline at once, sooner than agentTimeoutMs", async (t) => {
  const prober = fakeProber();
  const { store, registry, clock, agent, attemptId, chunk, offline } = setup(t, prober);
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs * 2 + 1);
  registry.sweep();
  clock.advance(200);
  await prober.answer("refused");
  assert.equal(store.agents.get(agent.id)?.state, "offline", "judged when the answer came, not at the next sweep");
  assert.equal(store.attempts.get(attemptId)?.state, "lost");
  // A refusal may also come from a firewall or NAT on the way: the error says both.
  assert.match(store.attempts.get(attemptId)?.error ?? "", /health port refuses connections \(its process is gone, or a firewall or NAT/);
  assert.equal(store.chunks.get(chunk.id)?.state, "pending");
  assert.deepEqual(offline, [agent.id]);
});

test("no answer to the probe (cut link, machine down): offline when it times out, sooner than agentTimeoutMs", async (t) => {
  const prober = fakeProber();
  const { store, registry, clock, agent, attemptId } = setup(t, prober);
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs * 2 + 1);
  registry.sweep();
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs);
  await prober.answer("no-answer");
  assert.equal(store.agents.get(agent.id)?.state, "offline");
  assert.match(store.attempts.get(attemptId)?.error ?? "", /does not answer/);
});

test("a probe's answer that comes after a heartbeat ended the silence is ignored", async (t) => {
  const prober = fakeProber();
  const { store, registry, clock, agent, attemptId, beat } = setup(t, prober);
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs * 2 + 1);
  registry.sweep();
  beat();
  await prober.answer("refused");
  assert.deepEqual(registry.sweep(), []);
  assert.equal(store.agents.get(agent.id)?.state, "online");
  assert.equal(store.attempts.get(attemptId)?.state, "running");
});

test("after a coordinator restart, an attempt from before it that two heartbeats since do not name is lost at once; one they name is kept", (t) => {
  const farm = seedFarm(t, { chunks: [[1, 5], [6, 10]] });
  const clock = manualClock(50_000);
  const claims = new ClaimService(farm.store, DEFAULT_FARM_POLICY, describeWork, clock.now, testLog(), () => undefined);
  const [c0, c1] = [farm.chunks[0]!, farm.chunks[1]!];
  const kept = claims.claim(farm.agent.id, c0.id, queueChunk(farm.store, c0.id)) as { attemptId: string };
  const dropped = claims.claim(farm.agent.id, c1.id, queueChunk(farm.store, c1.id)) as { attemptId: string };
  clock.advance(20_000); // the coordinator was down, and starts again
  const registry = new AgentRegistry(farm.store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined }, clock.now, testLog(), () => undefined);
  const beat = () => registry.heartbeat({ agentId: farm.agent.id, name: farm.agent.name, status: "busy", attemptId: kept.attemptId, seq: 0, sentAtMs: clock.now() } as Parameters<AgentRegistry["heartbeat"]>[0]);
  beat();
  registry.sweep();
  assert.equal(farm.store.attempts.get(dropped.attemptId)?.state, "running", "one heartbeat is not enough");
  clock.advance(DEFAULT_FARM_POLICY.heartbeatMs);
  beat();
  registry.sweep();
  assert.equal(farm.store.attempts.get(dropped.attemptId)?.state, "lost", "2 heartbeats, not the 5 s orphan limit");
  assert.match(farm.store.attempts.get(dropped.attemptId)?.error ?? "", /since the coordinator started/);
  assert.equal(farm.store.attempts.get(kept.attemptId)?.state, "running");
});
