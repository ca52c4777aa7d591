import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import type { Coordinator } from "../../coordinator/coordinator.ts";
import { generatedJob, startTestCoordinator, tempDir } from "../support/farm.ts";

function inProcessAgent(t: TestContext, c: Coordinator, name: string, dir: string, modelsDir = BUNDLED_MODELS_DIR) {
  return startLocalAgent(t, c, dir, name, { modelsDir });
}

test("an agent that keeps failing one job's chunks is blocklisted for that job only, and the job finishes elsewhere", async (t) => {
  const dir = tempDir(t, "ns-fault-block-");
  const badModels = join(dir, "bad-models");
  cpSync(BUNDLED_MODELS_DIR, badModels, { recursive: true });
  appendFileSync(join(badModels, "colour-grade.onnx"), Buffer.from([0])); // its sha256 no longer matches
  const coordinator = await startTestCoordinator(t, dir);
  await inProcessAgent(t, coordinator, "broken", dir, badModels);
  await inProcessAgent(t, coordinator, "healthy", dir);
  const { jobId } = await coordinator.api.submit(JSON.stringify(generatedJob("blocklist", 96, 64, 36, 4)), dir);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  const broken = coordinator.store.agents.list().find((a) => a.name === "broken");
  assert.ok(broken);
  const failedChunks = coordinator.store.attempts.failedChunkCount(jobId, broken.id);
  if (failedChunks >= 3) {
    assert.deepEqual(coordinator.api.job(jobId).blocklistedAgents, ["broken"]);
    assert.deepEqual(coordinator.api.blocklistedJobs(broken.id), [jobId]);
    const entry = coordinator.store.blocklist.get(jobId, broken.id);
    assert.match(entry?.lastError ?? "", /sha256/);
    // After the blocklisting, no attempt of this job went to the broken agent.
    const blockedAt = entry?.blockedAt ?? 0;
    const later = coordinator.store.chunks
      .listByJob(jobId)
      .flatMap((c) => coordinator.store.attempts.listByChunk(c.id))
      .filter((a) => a.agentId === broken.id && a.createdAt > blockedAt);
    assert.deepEqual(later, []);
  } else {
    // The healthy agent was fast enough to take nearly everything; the rule still must not have fired.
    assert.deepEqual(coordinator.api.job(jobId).blocklistedAgents, []);
    t.diagnostic(`broken agent failed only ${failedChunks} chunk(s); blocklist threshold not reached`);
  }
  // Not blocklisted for the farm: a new job's chunks still reach it (and fail there, since its model is broken).
  const { jobId: second } = await coordinator.api.submit(JSON.stringify(generatedJob("second", 8, 64, 36, 4)), dir);
  assert.equal(coordinator.store.blocklist.isBlocked(second, broken.id), false);
  await coordinator.finisher.waitFor(second);
});
