import { test } from "node:test";
import assert from "node:assert/strict";
import { startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";

/**
 * A restarted coordinator asks its agents for a heartbeat as soon as it listens for them (a "heartbeat-now"
 * control message), and after its nats-server restarts an agent beats as soon as it is back on NATS (or is
 * asked, if the coordinator is back after it), instead of each being heard up to a heartbeat period later:
 * the pool is held until the agents running work at a restart are heard (lost-work-first.ts holdsPool). Here
 * the period is 30 s, so a heartbeat within 10-15 s is the answer. Real coordinator (embedded nats-server), real agent process.
 */
test("an agent answers the coordinator's heartbeat-now at once, not at its next period", async (t) => {
  const dir = tempDir(t, "ns-heartbeat-now-");
  const c = await startTestCoordinator(t, dir, { heartbeatMs: 30_000 });
  const agent = await startAgentProcess(t, c.address, "alpha", dir);
  const first = await waitUntil(() => [...c.registry.live.values()].find((hb) => hb.name === "alpha"), 30_000, "alpha's first heartbeat");
  c.askForHeartbeats();
  const next = await waitUntil(() => {
    const hb = c.registry.live.get(first.agentId);
    return hb !== undefined && hb.seq > first.seq ? hb : undefined;
  }, 10_000, "a heartbeat answering the ask").catch((e: Error) => {
    throw new Error(`${e.message}\n${agent.output().slice(-3000)}`);
  });
  assert.equal(next.agentId, first.agentId);
});

test("after the nats-server restarts, an agent is heard again at once, not at its next period", async (t) => {
  const dir = tempDir(t, "ns-heartbeat-back-");
  const c = await startTestCoordinator(t, dir, { heartbeatMs: 30_000 });
  const agent = await startAgentProcess(t, c.address, "alpha", dir);
  const first = await waitUntil(() => [...c.registry.live.values()].find((hb) => hb.name === "alpha"), 30_000, "alpha's first heartbeat");
  // Right after a heartbeat: the next one on the period is 30 s away.
  c.askForHeartbeats();
  const before = await waitUntil(() => {
    const hb = c.registry.live.get(first.agentId);
    return hb !== undefined && hb.seq > first.seq ? hb : undefined;
  }, 10_000, "a heartbeat answering the ask");
  const pid = c.natsPid;
  assert.ok(pid !== undefined);
  process.kill(pid, "SIGKILL");
  await waitUntil(() => c.natsPid !== undefined && c.natsPid !== pid, 15_000, "nats-server restarted by its supervisor");
  await waitUntil(() => {
    const hb = c.registry.live.get(first.agentId);
    return hb !== undefined && hb.seq > before.seq ? hb : undefined;
  }, 15_000, "a heartbeat once both are back on NATS").catch((e: Error) => {
    throw new Error(`${e.message}\n${agent.output().slice(-3000)}`);
  });
});
