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

test("a poison chunk fails on every agent: marked failed after a bounded number of tries, the rest of the job finishes, failed frames reported", async (t) => {
  const dir = tempDir(t, "ns-fault-poison-");
  const seq = join(dir, "plates");
  mkdirSync(seq);
  for (let i = 0; i < 24; i++) writeFileSync(join(seq, `plate_${String(i).padStart(4, "0")}.png`), encodePng(generateFrame(i, 64, 36, 1)));
  writeFileSync(join(seq, "plate_0010.png"), Buffer.from("this is not a png, a truncated copy from a dying disk"));
  const coordinator = await startTestCoordinator(t, dir);
  await inProcessAgent(t, coordinator, "a1", dir);
  await inProcessAgent(t, coordinator, "a2", dir);
  const spec = {
    name: "poison",
    input: { type: "image-sequence", path: seq },
    steps: [{ id: "grade", kind: "model", model: "colour-grade" }],
    chunking: { mode: "fixed", size: 8 },
    output: { path: "{job}", framePattern: "frame_{frame:06}.png" },
  };
  const { jobId } = await coordinator.api.submit(JSON.stringify(spec), dir);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "failed");
  const view = coordinator.api.job(jobId);
  assert.deepEqual(view.failedFrames, [8, 9, 10, 11, 12, 13, 14, 15]);
  assert.equal(view.chunksDone, 2);
  assert.match(view.message, /frames not rendered: 8-15/);
  assert.match(view.message, /plate_0010\.png/, "the agents' error output names the bad file");
  const poison = coordinator.store.chunks.listByJob(jobId)[1];
  assert.equal(poison?.state, "failed");
  const attempts = coordinator.store.attempts.listByChunk(poison?.id ?? "");
  assert.equal(attempts.length, 5, "bounded: maxFailuresPerChunk tries, then no more");
  assert.ok(attempts.every((a) => a.state === "failed"));
  for (const f of [0, 7, 16, 23]) assert.ok(existsSync(join(job.outputDir, `frame_${String(f).padStart(6, "0")}.png`)), `frame ${f} kept`);
  for (const f of [8, 15]) assert.ok(!existsSync(join(job.outputDir, `frame_${String(f).padStart(6, "0")}.png`)));
  // One poison chunk is not a reason to blocklist an agent.
  assert.deepEqual(view.blocklistedAgents, []);
});
