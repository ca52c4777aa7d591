import assert from "node:assert/strict";
import { test } from "node:test";
import { connect } from "@nats-io/transport-node";
import type { EncodedFrame } from "../../agent/executors/executor.ts";
import { OnnxExecutor } from "../../agent/executors/onnx-executor.ts";
import { OnnxWorker, OnnxWorkerError, prepareOnnxWorker } from "../../agent/executors/onnx-worker.ts";
import { tilePlanFor } from "../../agent/executors/tile-blend.ts";
import { HeartbeatPublisher } from "../../agent/nats/heartbeat-publisher.ts";
import { UPSCALE_MODEL_NAME } from "../../models/fetchable-models.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { decodeJson, HeartbeatSchema } from "../../shared/protocol/messages.ts";
import { defer } from "../helpers/defer.ts";
import { startNats } from "../helpers/nats.ts";
import { upscaleModelDir, upscaleModelMissing } from "../support/fetched-model.ts";

/**
 * The agent's event loop stays live while the learned upscaler runs: the
 * model runs in its own worker thread, so the agent's real heartbeat
 * publisher keeps publishing through a real nats-server during a tile.
 * When onnxruntime ran on the main thread, a tile (one synchronous
 * session.run) let no timer fire: at most one heartbeat could be sent between
 * reading the frame and the frame coming out, none during the tile itself.
 */
const skip = upscaleModelMissing();
const PERIOD_MS = 50;

test("heartbeats are published and received while an upscaler tile runs", { skip }, async (t) => {
  const nats = await startNats(t);
  const agentNc = await connect({ servers: nats.url });
  defer(t, () => agentNc.close());
  const watchNc = await connect({ servers: nats.url });
  defer(t, () => watchNc.close());
  const sentAt: number[] = [];
  watchNc.subscribe("test.hb.agent-1", { callback: (_err, m) => void sentAt.push(decodeJson(HeartbeatSchema, m.data).sentAtMs) });
  await watchNc.flush();

  const model = await resolveModel(upscaleModelDir, UPSCALE_MODEL_NAME);
  const executor = new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 });
  defer(t, () => executor.close());
  await executor.load();
  // The model's own input size: one tile, one session.run.
  const frame = generateFrame(3, 256, 256, 7);
  assert.equal(tilePlanFor(model.manifest, frame), undefined);

  const beats = new HeartbeatPublisher(agentNc, "test.hb.agent-1", PERIOD_MS, () => ({ agentId: "agent-1", name: "a", status: "busy", attemptId: "att" }));
  beats.start();
  defer(t, () => beats.stop());

  let readAt = 0;
  let outAt = 0;
  const out: EncodedFrame[] = [];
  for await (const f of executor.run({
    jobId: "j", chunkId: "c", attemptId: "att", frames: [0], seed: 0,
    readFrame: () => {
      readAt = Date.now();
      return Promise.resolve(frame);
    },
    signal: new AbortController().signal,
  })) {
    outAt = Date.now();
    out.push(f);
  }
  await agentNc.flush();
  await watchNc.flush();
  assert.equal(out.length, 1);
  const during = sentAt.filter((s) => s > readAt && s < outAt);
  assert.ok(during.length >= 2, `${during.length} heartbeats sent and received during the ${outAt - readAt} ms the frame was in the model`);
});

test("a thread started ahead takes the model; a closed worker refuses work with a named error; an executor opens a new one after close", { skip }, async (t) => {
  const model = await resolveModel(upscaleModelDir, UPSCALE_MODEL_NAME);
  prepareOnnxWorker();
  const worker = await OnnxWorker.open(model.modelPath, model.manifest, { intraOpThreads: 1 });
  assert.equal(worker.usable, true);
  await worker.close();
  await worker.close();
  assert.equal(worker.usable, false);
  await assert.rejects(worker.run([generateFrame(0, 64, 64, 0)]), OnnxWorkerError);

  const executor = new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 });
  defer(t, () => executor.close());
  const small = generateFrame(0, 32, 24, 0);
  assert.equal((await executor.gradeFrame(small)).width, 64);
  await executor.close();
  assert.equal((await executor.gradeFrame(small)).width, 64);
});
