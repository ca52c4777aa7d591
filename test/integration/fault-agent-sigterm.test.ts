import { test } from "node:test";
import assert from "node:assert/strict";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";

test("SIGTERM to an agent drains: it finishes the chunk it holds, takes no new one, and exits 0", async (t) => {
  const dir = tempDir(t, "ns-fault-drain-");
  const coordinator = await startTestCoordinator(t, dir);
  const agent = await startAgentProcess(t, coordinator.address, "drainer", dir);
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("drain", 64, 640, 360, 16)), dir);
  const store = coordinator.store;
  const me = store.agents.list().find((a) => a.name === "drainer");
  assert.ok(me);
  const held = await waitUntil(() => store.attempts.runningForAgent(me.id)[0], 60_000, "a claimed chunk", 10);
  agent.kill("SIGTERM");
  const exit = await agent.exited;
  assert.equal(exit.code, 0, agent.output().slice(-2000));
  const all = store.chunks.listByJob(jobId).flatMap((c) => store.attempts.listByChunk(c.id));
  assert.ok(all.some((a) => a.id === held.id));
  // The agent may hold two chunks when SIGTERM comes: the one it runs and one claimed ahead during the
  // running chunk's last frame. It finishes what it runs and hands back, unstarted, what it claimed ahead.
  const committed = all.filter((a) => a.state === "committed");
  const handedBack = all.filter((a) => a.state === "handed-back");
  assert.ok(committed.length >= 1, "the chunk it was running was finished and committed");
  assert.equal(committed.length + handedBack.length, all.length, "nothing it took is left running or failed");
  assert.ok(handedBack.length <= 1 && all.length <= 2, "no chunk was claimed after SIGTERM beyond the one claimed ahead");
  assert.equal(store.chunks.counts(jobId).done, committed.length);
  void waitUntil;
});
