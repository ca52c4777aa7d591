// An agent opens its claim stream and its upload stream when it starts
// (agent/agent.ts, ClaimStream.warm, UploadStream.warm), not at its first
// claim and first upload: a fresh farm's first chunks all waited for their
// agent's two opens at once (at 64 agents in the scheduling bench, the upload
// stream's open and ready round trip alone was about 300 ms of each agent's
// ramp-up). Against a real coordinator (embedded nats-server, store, gRPC with
// mutual TLS) and real in-process agents whose executor sleeps.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SleepFarm, sleepJob } from "../../bench/scheduling/sleep-farm.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

test("agents open their claim and upload streams at start; their first chunks open none", async (t) => {
  const dir = tempDir(t, "nightshift-streams-at-start-");
  const farm = await SleepFarm.start({ dir, msPerFrame: 20, log: testLog() });
  defer(t, () => farm.stop());
  await farm.addAgents([{ name: "a", speed: 1 }, { name: "b", speed: 1 }]);
  const c = farm.coordinator;
  await eventually(() => c.openStreams.claims === 2 && c.openStreams.uploads === 2, `both agents' streams open before any job (now ${JSON.stringify(c.openStreams)})`);

  const { jobId } = await c.api.submit(JSON.stringify(sleepJob("first-chunks", 8, 2)), dir);
  const job = await c.finisher.waitFor(jobId);
  assert.equal(job.state, "done");
  assert.deepEqual(c.openStreams, { claims: 2, uploads: 2 }, "the same streams carried the chunks' claims and uploads");
});
