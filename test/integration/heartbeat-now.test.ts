import { test } from "node:test";
import assert from "node:assert/strict";
import { startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";

/**
 * A restarted coordinator asks its agents for a heartbeat as soon as it listens for them (a "heartbeat-now"
 * control message), instead of waiting up to a heartbeat period to hear each one: its pool is held until the
 * agents running work at the restart are heard (lost-work-first.ts holdsPool). Here the period is 30 s, so a
 * heartbeat within 10 s of the ask is the agent's answer. Real coordinator (embedded nats-server), real agent process.
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
