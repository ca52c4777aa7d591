import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import { decodePng } from "../../shared/media/png-codec.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { OnnxExecutor, gradeFrameDirect } from "../../agent/executors/onnx-executor.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { findFfmpeg } from "../../shared/media/ffmpeg-binaries.ts";
import { startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";

const ffmpeg = findFfmpeg();
const skip = ffmpeg === null ? "needs ffmpeg (apt-get install ffmpeg; CI installs it)" : false;

/**
 * A chain on the farm: every frame is graded by the colour-grade model, then
 * mirrored by ffmpeg as an allowed command step, on the same agent. Only the
 * agent whose admin allowed `ffmpeg-flip` may take the chunks; the frames
 * must equal the model's output run through ffmpeg directly.
 */
test("a model step then a command step: placed only where the program is allowed, frames equal running both directly", { skip }, async (t) => {
  const dir = tempDir(t, "ns-chain-");
  const coordinator = await startTestCoordinator(t, dir);
  const allowed = AgentKindsConfigSchema.parse({ commands: { "ffmpeg-flip": { path: ffmpeg ?? "" } } });
  await startLocalAgent(t, coordinator, dir, "with-ffmpeg", { kinds: allowed });
  await startLocalAgent(t, coordinator, dir, "plain");
  const [W, H, N] = [48, 32, 12];
  const spec = {
    name: "grade and flip",
    seed: 5,
    input: { type: "generated", width: W, height: H, frames: N },
    steps: [
      { id: "grade", kind: "model", model: "colour-grade" },
      { id: "flip", kind: "command", program: "ffmpeg-flip", args: ["-nostdin", "-loglevel", "error", "-i", "{input}", "-vf", "hflip", "{output}"] },
    ],
    chunking: { mode: "fixed", size: 3 },
  };
  const { jobId } = await coordinator.api.submit(JSON.stringify(spec), dir);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");

  const agents = new Map(coordinator.store.agents.list().map((a) => [a.id, a.name]));
  const frames = coordinator.store.frames.listByJob(jobId);
  assert.equal(frames.length, N);
  assert.deepEqual([...new Set(frames.map((f) => agents.get(f.agentId)))], ["with-ffmpeg"]);

  const model = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade");
  const exec = new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 });
  await exec.load();
  t.after(() => exec.close());
  const scratch = tempDir(t, "ns-chain-ref-");
  for (const f of frames) {
    const graded = await gradeFrameDirect(exec, generateFrame(f.frame, W, H, 5));
    const a = join(scratch, `in-${f.frame}.png`);
    const b = join(scratch, `out-${f.frame}.png`);
    writeFileSync(a, graded.png);
    execFileSync(ffmpeg as string, ["-nostdin", "-loglevel", "error", "-i", a, "-vf", "hflip", b]);
    const want = decodePng(readFileSync(b));
    const got = decodePng(readFileSync(f.path));
    assert.equal(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data)), 0, `frame ${f.frame} differs from model + ffmpeg run directly`);
  }
});

test("a step naming a program no agent allows waits and says why; it is never run", { skip }, async (t) => {
  const dir = tempDir(t, "ns-chain-refused-");
  const coordinator = await startTestCoordinator(t, dir);
  await startLocalAgent(t, coordinator, dir, "plain", { kinds: AgentKindsConfigSchema.parse({ commands: { "ffmpeg-flip": { path: ffmpeg ?? "" } } }) });
  const spec = {
    name: "rm everything",
    input: { type: "generated", width: 8, height: 8, frames: 2 },
    steps: [{ id: "evil", kind: "command", program: "rm", args: ["-rf", "{input}", "{output}"] }],
  };
  const { jobId } = await coordinator.api.submit(JSON.stringify(spec), dir);
  const view = await waitUntil(() => {
    const v = coordinator.api.jobs().find((j) => j.id === jobId);
    return v && v.message.includes("no online agent can run this job") ? v : undefined;
  }, 20_000, "the job to say why it waits");
  assert.match(view.message, /plain has command lacks allowed program rm \(step evil\)/);
  const attempts = coordinator.store.chunks.listByJob(jobId).flatMap((c) => coordinator.store.attempts.listByChunk(c.id));
  assert.equal(attempts.length, 0);
});

test("a command that fails: the chunk fails with the program's own last line, and `job logs` keeps its output per attempt", { skip }, async (t) => {
  const dir = tempDir(t, "ns-chain-fail-");
  const coordinator = await startTestCoordinator(t, dir);
  await startLocalAgent(t, coordinator, dir, "with-ffmpeg", { kinds: AgentKindsConfigSchema.parse({ commands: { ffmpeg: { path: ffmpeg ?? "" } } }) });
  const spec = {
    name: "bad filter",
    input: { type: "generated", width: 8, height: 8, frames: 2 },
    steps: [{ id: "filter", kind: "command", program: "ffmpeg", args: ["-nostdin", "-hide_banner", "-i", "{input}", "-vf", "nosuchfilter", "{output}"] }],
    chunking: { mode: "fixed", size: 2 },
  };
  const { jobId } = await coordinator.api.submit(JSON.stringify(spec), dir);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "failed");
  const logs = coordinator.api.logs(jobId, 0);
  assert.ok(logs.length >= 1);
  for (const a of logs) {
    assert.equal(a.state, "failed");
    assert.match(a.error, /ffmpeg \(exit \d+\): .*nosuchfilter/i, a.error);
    assert.match(a.log, /No such filter: 'nosuchfilter'/);
  }
  assert.throws(() => coordinator.api.logs(jobId, 7), /--chunk: job \S+ has no chunk 7/);
});
