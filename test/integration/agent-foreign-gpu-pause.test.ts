import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../../coordinator/coordinator.ts";
import type { Store } from "../../coordinator/store/store.ts";
import type { PowerReading, PowerSource } from "../../agent/probe/power-source-types.ts";
import { demoJobSpec } from "../../cli/demo/demo-job.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { wireAgent } from "../../coordinator/grpc/control-handler.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

/**
 * The injected probe: an NVML-like source whose process list the test
 * controls. There is no GPU here; everything else (coordinator, NATS, gRPC,
 * ONNX, the sink) is real.
 */
function gpuProbe() {
  const probe = { foreign: false, reads: 0 };
  let mj = 0;
  const source: PowerSource = {
    kind: "nvml",
    description: "injected test probe",
    async read(): Promise<PowerReading> {
      probe.reads += 1;
      mj += 10_000;
      return {
        tMs: Date.now(),
        watts: 100,
        counters: [{ id: "nvml:GPU-test", value: mj, maxRange: null, joulesPerUnit: 1e-3 }],
        vramBytes: 0,
        gpuProcesses: [{ pid: process.pid, usedBytes: 2 ** 28, gpuUuid: "GPU-test" }, ...(probe.foreign ? [{ pid: 4242, usedBytes: 2 ** 31, gpuUuid: "GPU-test" }] : [])],
      };
    },
    async close(): Promise<void> {},
  };
  return { probe, source };
}

const attemptsOf = (store: Store, jobId: string) =>
  store.db.prepare(`SELECT id, state, created_at AS createdAt FROM attempts WHERE job_id = ? ORDER BY created_at`).all(jobId) as Array<{ id: string; state: string; createdAt: number }>;

test("an agent pauses while another process holds its GPU, finishes the chunk it has, and resumes once the card was free for --gpu-free-seconds", async (t) => {
  const dir = tempDir(t, "ns-foreign-gpu-");
  const config = compileCoordinatorConfig(
    { dataDir: join(dir, "coordinator"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0" },
    BUNDLED_MODELS_DIR,
  );
  const coordinator = await Coordinator.start(config, testLog());
  defer(t, () => coordinator.stop());
  const { probe, source } = gpuProbe();
  probe.foreign = true; // someone is already on the card when the agent starts
  const agent = await startLocalAgent(t, coordinator, dir, "shared-gpu", { powerSource: source, telemetryIntervalMs: 100, gpuFreeSeconds: 1 });
  const status = () => coordinator.registry.live.get(agent.agentId)?.status;
  await eventually(() => status() === "paused-foreign-gpu-use", "the paused status in a heartbeat", 5000);
  const view = wireAgent(coordinator.store.agents.get(agent.agentId)!, [], coordinator.api.agentLive(agent.agentId));
  assert.equal(view.status, "paused-foreign-gpu-use");
  assert.match(view.note, /another process uses the GPU \(pid 4242, 2\.0 GiB\)/);

  // Phase 1: work waits while the card is in use.
  const first = await coordinator.api.submit(JSON.stringify(demoJobSpec(16, 64, 36)), dir);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(attemptsOf(coordinator.store, first.jobId).length, 0, "no chunk claimed while someone else uses the GPU");
  const freedAt = Date.now();
  probe.foreign = false;
  const done = await coordinator.finisher.waitFor(first.jobId);
  assert.equal(done.state, "done");
  const firstClaim = attemptsOf(coordinator.store, first.jobId)[0]!.createdAt;
  assert.ok(firstClaim >= freedAt + 1000 - 50, `first claim ${firstClaim - freedAt} ms after the card was freed; expected >= 1000 ms`);

  // Phase 2: someone takes the card while a chunk runs: that chunk still finishes, then the agent pauses.
  const second = await coordinator.api.submit(JSON.stringify(demoJobSpec(48, 320, 180)), dir);
  await eventually(() => attemptsOf(coordinator.store, second.jobId).some((a) => a.state === "running"), "a running chunk", 20_000, 5);
  const runningWhenTaken = attemptsOf(coordinator.store, second.jobId).find((a) => a.state === "running")!.id;
  probe.foreign = true;
  await eventually(() => status() === "paused-foreign-gpu-use", "the agent to pause after its chunk", 10_000);
  const atPause = attemptsOf(coordinator.store, second.jobId);
  assert.equal(atPause.find((a) => a.id === runningWhenTaken)?.state, "committed", "the chunk that was running when the GPU was taken finished");
  assert.ok(atPause.every((a) => a.state === "committed"), "nothing was aborted");
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(attemptsOf(coordinator.store, second.jobId).length, atPause.length, "no new chunk while paused");
  assert.notEqual(coordinator.store.jobs.get(second.jobId)?.state, "done", "chunks remain for after the pause");
  probe.foreign = false;
  assert.equal((await coordinator.finisher.waitFor(second.jobId)).state, "done");
  assert.ok(probe.reads > 10, "the injected probe was read by telemetry and the chunk meter");
});
