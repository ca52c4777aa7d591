import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { generatedJob, startAgentProcess, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { assertGeneratedJobDone } from "../support/assert-generated-job.ts";

/**
 * The liveness probe with real agent processes on loopback. A SIGSTOPped agent sends no heartbeats, but its
 * kernel still accepts connections to its health port: the coordinator keeps it online past agentTimeoutMs and
 * its chunk is not requeued. Stopped and then killed, its port refuses (and its NATS connection closes): it is
 * lost at once, not after the starved limit.
 */
test("a stopped agent (kernel answers) stays online with its chunk past agentTimeoutMs; stopped then killed, it is lost at once", async (t) => {
  const dir = tempDir(t, "ns-liveness-");
  const coordinator = await startTestCoordinator(t, dir);
  const { agentTimeoutMs, heartbeatMs } = coordinator.config.policy;
  const sleeper = await startAgentProcess(t, coordinator.address, "sleeper", dir);
  const other = await startAgentProcess(t, coordinator.address, "other", dir);
  const [W, H, N] = [640, 360, 160];
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("liveness", N, W, H, 16)), dir);
  const store = coordinator.store;
  const agent = store.agents.list().find((x) => x.name === "sleeper");
  assert.ok(agent);
  assert.match(agent.address, /^127\.0\.0\.1:\d+$/, "the coordinator knows the health port the agent joined with");

  // 1. Stopped: silent well past agentTimeoutMs, kept online, its attempt kept.
  const first = await waitUntil(() => store.attempts.runningForAgent(agent.id)[0], 60_000, "the sleeper to claim a chunk", 10);
  sleeper.kill("SIGSTOP");
  const stoppedAt = Date.now();
  const stopFor = agentTimeoutMs + 3 * heartbeatMs;
  while (Date.now() - stoppedAt < stopFor) {
    assert.equal(store.agents.get(agent.id)?.state, "online", `offline ${Date.now() - stoppedAt} ms after SIGSTOP`);
    assert.equal(store.attempts.get(first.id)?.state, "running", "the stopped agent's attempt was requeued");
    await sleep(100);
  }
  const silentMs = Date.now() - (store.agents.get(agent.id)?.lastSeen ?? 0);
  assert.ok(silentMs > agentTimeoutMs, `silent ${silentMs} ms, past the ${agentTimeoutMs} ms timeout`);
  sleeper.kill("SIGCONT");
  await waitUntil(() => (store.agents.get(agent.id)?.lastSeen ?? 0) > stoppedAt + stopFor, 30_000, "a heartbeat after SIGCONT");
  assert.equal(store.agents.get(agent.id)?.state, "online");
  const done = await waitUntil(() => {
    const row = store.attempts.get(first.id);
    return row && row.state !== "running" ? row : undefined;
  }, 60_000, "the stopped agent's attempt to end after SIGCONT");
  assert.equal(done.state, "committed", `the stopped agent committed its chunk after SIGCONT (${done.state}: ${done.error ?? ""})`);
  t.diagnostic(`stopped ${stopFor} ms (timeout ${agentTimeoutMs} ms): kept online, its attempt committed after SIGCONT`);

  // 2. Stopped, kept past the timeout, then killed: lost by the refusal or the closed connection, not the starved limit.
  // A second, larger job: the stop must not fall in a job's tail, where a straggler's chunk is run again elsewhere (superseded).
  await assertGeneratedJobDone(coordinator, dir, jobId, N, W, H);
  const job2 = await coordinator.api.submit(JSON.stringify(generatedJob("liveness-2", 960, W, H, 16)), dir);
  const second = await waitUntil(() => store.attempts.runningForAgent(agent.id).find((a) => a.jobId === job2.jobId), 60_000, "the sleeper to claim again", 10);
  sleeper.kill("SIGSTOP");
  const stopped2 = Date.now();
  await sleep(agentTimeoutMs + heartbeatMs);
  assert.equal(store.agents.get(agent.id)?.state, "online", "kept online while stopped");
  sleeper.kill("SIGKILL");
  const killedAt = Date.now();
  await sleeper.exited;
  const lost = await waitUntil(() => {
    const row = store.attempts.get(second.id);
    return row && row.state !== "running" ? row : undefined;
  }, 30_000, "the killed agent's attempt to be lost");
  const lostAfterMs = Date.now() - killedAt;
  assert.equal(lost.state, "lost");
  assert.match(lost.error ?? "", /process is gone|connection closed/, "lost by the kill, not by the starved limit");
  t.diagnostic(`killed ${killedAt - stopped2} ms after SIGSTOP; lost ${lostAfterMs} ms after the kill (${lost.error ?? ""})`);

  // The first job: every frame once (checked above); the first attempt's chunk was made once, by the agent that was stopped.
  // Not requeued: no attempt of it lost, and the stopped agent's the one committed. A speculative copy run on the
  // idle agent in the job's tail (superseded when the stopped agent committed first) is the straggler rule, not a requeue.
  const firstAttempts = store.attempts.listByChunk(first.chunkId);
  const states = firstAttempts.map((a) => `${a.id === first.id ? "stopped agent's" : "copy"} ${a.state}`).join(", ");
  assert.deepEqual(firstAttempts.filter((a) => a.state === "committed").map((a) => a.id), [first.id], `chunk ${first.chunkId}: ${states}`);
  assert.ok(firstAttempts.every((a) => a.id === first.id || a.state === "superseded"), `chunk ${first.chunkId} was not requeued: ${states}`);
  if (firstAttempts.length > 1) t.diagnostic(`chunk ${first.chunkId}: ${states}`);
  await other.stop();
});
