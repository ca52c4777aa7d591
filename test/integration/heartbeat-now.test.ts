import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";

/**
 * A restarted coordinator asks its agents for a heartbeat as soon as it listens for them (a "heartbeat-now"
 * control message), and after its nats-server restarts an agent beats as soon as it is back on NATS (or is
 * asked, if the coordinator is back after it), instead of each being heard up to a heartbeat period later:
 * the pool is held until the agents running work at a restart are heard (lost-work-first.ts holdsPool). Here
 * the period is 30 s, so a heartbeat within 10-15 s is the answer. Real coordinator (embedded nats-server), real agent process.
 */
/** A coordinator with a 30 s heartbeat period, one agent process, and that agent's first heartbeat. */
async function farmOfOne(t: TestContext, prefix: string) {
  const dir = tempDir(t, prefix);
  const c = await startTestCoordinator(t, dir, { heartbeatMs: 30_000 });
  const agent = await startAgentProcess(t, c.address, "alpha", dir);
  const first = await waitUntil(() => [...c.registry.live.values()].find((hb) => hb.name === "alpha"), 30_000, "alpha's first heartbeat");
  /** The agent's next heartbeat after `after`, within `ms` (its output in the error otherwise). */
  const heardAfter = (after: Heartbeat, ms: number, what: string): Promise<Heartbeat> =>
    waitUntil(() => {
      const hb = c.registry.live.get(first.agentId);
      return hb !== undefined && hb.seq > after.seq ? hb : undefined;
    }, ms, what).catch((e: Error) => {
      throw new Error(`${e.message}\n${agent.output().slice(-3000)}`);
    });
  return { c, first, heardAfter };
}

test("an agent answers the coordinator's heartbeat-now at once, not at its next period, echoing the ask", async (t) => {
  const { c, first, heardAfter } = await farmOfOne(t, "ns-heartbeat-now-");
  assert.equal(first.answers, undefined, "asked nothing yet");
  c.askForHeartbeats(1_234);
  const next = await heardAfter(first, 10_000, "a heartbeat answering the ask");
  assert.equal(next.agentId, first.agentId);
  assert.equal(next.answers, 1_234, "the heartbeat names the ask it answers (the roll call tells it from one already under way)");
});

test("after the nats-server restarts, an agent is heard again at once, not at its next period", async (t) => {
  const { c, first, heardAfter } = await farmOfOne(t, "ns-heartbeat-back-");
  // Right after a heartbeat: the next one on the period is 30 s away.
  c.askForHeartbeats();
  const before = await heardAfter(first, 10_000, "a heartbeat answering the ask");
  const pid = c.natsPid;
  assert.ok(pid !== undefined);
  process.kill(pid, "SIGKILL");
  await waitUntil(() => c.natsPid !== undefined && c.natsPid !== pid, 15_000, "nats-server restarted by its supervisor");
  await heardAfter(before, 15_000, "a heartbeat once both are back on NATS");
});
