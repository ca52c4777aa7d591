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
  assert.equal(store.attempts.get(held.id)?.state, "committed", "the held chunk was finished and committed");
  const all = store.chunks.listByJob(jobId).flatMap((c) => store.attempts.listByChunk(c.id));
  assert.equal(all.length, 1, "no chunk was claimed after SIGTERM");
  assert.equal(store.chunks.counts(jobId).done, 1);
  void waitUntil;
});
