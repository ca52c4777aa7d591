import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { OnnxExecutor } from "../../agent/executors/onnx-executor.ts";
import { openOnnxSession, runModelOnWindow } from "../../agent/executors/onnx-session.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { decodePng } from "../../shared/media/png-codec.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";

const [W, H] = [24, 16];

/**
 * A chain of a per-frame model and a temporal one, cut into chunks of 4 on
 * two agents: the temporal step must see each frame's window of graded
 * neighbours, across chunk edges (context frames), with the edge frame
 * repeated only at the job's range. Reference: both models run on the whole
 * range in one process, no chunks.
 */
test("a temporal step sees its window across chunk edges: frames equal one unchunked run of the chain", async (t) => {
  const dir = tempDir(t, "ns-temporal-");
  const coordinator = await startTestCoordinator(t, dir);
  await startLocalAgent(t, coordinator, dir, "a");
  await startLocalAgent(t, coordinator, dir, "b");
  const [first, last] = [3, 16];
  const spec = {
    name: "grade then smooth",
    seed: 9,
    input: { type: "generated", width: W, height: H, frames: 24 },
    frames: { start: first, end: last },
    steps: [
      { id: "grade", kind: "model", model: "colour-grade" },
      { id: "smooth", kind: "temporal", model: "temporal-mean", window: 5 },
    ],
    chunking: { mode: "fixed", size: 4 },
  };
  const { jobId } = await coordinator.api.submit(JSON.stringify(spec), dir);
  const job = await coordinator.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");

  const grade = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade");
  const mean = await resolveModel(BUNDLED_MODELS_DIR, "temporal-mean");
  const g = new OnnxExecutor({ manifest: grade.manifest, modelPath: grade.modelPath, intraOpThreads: 1 });
  await g.load();
  t.after(() => g.close());
  const session = await openOnnxSession(mean.modelPath, mean.manifest, { intraOpThreads: 1 });
  t.after(() => session.release());
  const graded = new Map<number, RgbFrame>();
  for (let i = first; i <= last; i++) graded.set(i, await g.gradeFrame(generateFrame(i, W, H, 9)));

  const frames = coordinator.store.frames.listByJob(jobId).sort((a, b) => a.frame - b.frame);
  assert.equal(frames.length, last - first + 1);
  let differsFromGraded = 0;
  for (const f of frames) {
    const window = [-2, -1, 0, 1, 2].map((d) => graded.get(Math.min(last, Math.max(first, f.frame + d))) as RgbFrame);
    const want = await runModelOnWindow(session, mean.manifest, window);
    const got = decodePng(readFileSync(f.path));
    assert.equal(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data)), 0, `frame ${f.frame} differs from the unchunked chain`);
    if (Buffer.compare(Buffer.from(got.data), Buffer.from((graded.get(f.frame) as RgbFrame).data)) !== 0) differsFromGraded++;
  }
  assert.ok(differsFromGraded > frames.length / 2, "the temporal step changed the frames (it saw its neighbours)");
});

test("a temporal step's window must be the model's; a temporal model in a per-frame step is refused", async (t) => {
  const dir = tempDir(t, "ns-temporal-bad-");
  const coordinator = await startTestCoordinator(t, dir);
  const base = { name: "x", input: { type: "generated", width: 8, height: 8, frames: 8 } };
  await assert.rejects(
    coordinator.api.submit(JSON.stringify({ ...base, steps: [{ id: "s", kind: "temporal", model: "temporal-mean", window: 3 }] }), dir),
    /steps\[0\]\.window: model 'temporal-mean' sees 5 frames at once, the step says 3/,
  );
  await assert.rejects(
    coordinator.api.submit(JSON.stringify({ ...base, steps: [{ id: "s", kind: "model", model: "temporal-mean" }] }), dir),
    /steps\[0\]\.kind: model 'temporal-mean' is temporal/,
  );
});
