import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { Store } from "../../coordinator/store/store.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { demoJobSpec } from "../../cli/demo/demo-job.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { wireAgent } from "../../coordinator/grpc/control-handler.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { testLog } from "../helpers/test-log.ts";

/** Prometheus text: the value of the first sample of `name` whose labels include every `labels` pair. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

test("a small job: telemetry reaches the store downsampled, the agents list shows power, and /metrics answers on loopback", async (t) => {
  const dir = tempDir(t, "ns-accounting-");
  const log = testLog();
  const config = compileCoordinatorConfig(
    { dataDir: join(dir, "coordinator"), outputRoot: join(dir, "output"), modelsDir: BUNDLED_MODELS_DIR, listen: "127.0.0.1:0", metricsListen: "127.0.0.1:0" },
    BUNDLED_MODELS_DIR,
  );
  const coordinator = await Coordinator.start(config, log);
  defer(t, () => coordinator.stop());
  const agent = await startLocalAgent(t, coordinator, dir, "metrics-agent", { telemetryIntervalMs: 200 });

  const submitted = await coordinator.api.submit(JSON.stringify(demoJobSpec(16, 64, 36)), dir);
  const job = await coordinator.finisher.waitFor(submitted.jobId);
  assert.equal(job.state, "done");
  await eventually(() => (coordinator.accounting.telemetry.latest(agent.agentId)?.sample.seq ?? 0) >= 3, "a few telemetry samples", 10_000);

  const url = coordinator.accounting.metricsUrl;
  assert.ok(url?.startsWith("http://127.0.0.1:"), `metrics url ${url}`);
  const who = { agent: agent.agentId, name: "metrics-agent" };
  // The agent's status comes from its latest heartbeat, which may still say busy just after the job ended.
  let text = "";
  await eventually(async () => {
    const res = await fetch(url!);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    text = await res.text();
    return metric(text, "nightshift_agent_up", { ...who, status: "idle" }) === 1;
  }, "the agent to report idle after the job", 10_000, 250);
  assert.equal(metric(text, "nightshift_agent_frames_committed_total", who), 16);
  assert.equal(metric(text, "nightshift_agent_chunks_total", { ...who, outcome: "committed" }), 2);
  assert.ok((metric(text, "nightshift_agent_power_watts", { ...who, source: "estimate" }) ?? 0) > 0, "power from telemetry");
  assert.ok((metric(text, "nightshift_agent_energy_joules_total", who) ?? 0) > 0, "energy counter from telemetry");
  assert.ok((metric(text, "nightshift_agent_chunk_energy_joules_total", who) ?? 0) > 0, "chunk energy from the ledger");
  assert.ok((metric(text, "nightshift_agent_ram_bytes", who) ?? 0) > 0);
  assert.equal(metric(text, "nightshift_agent_up", { ...who, status: "idle" }), 1);
  assert.ok((metric(text, "nightshift_telemetry_samples_total", { result: "accepted" }) ?? 0) >= 3);
  assert.equal((await fetch(url!.replace("/metrics", "/other"))).status, 404);

  const view = wireAgent(coordinator.store.agents.get(agent.agentId)!, [], coordinator.api.agentLive(agent.agentId));
  assert.equal(view.status, "idle");
  assert.equal(view.energySource, "estimate");
  assert.ok((view.powerWatts ?? 0) > 0);

  await agent.stop();
  await coordinator.stop(); // writes the open telemetry bucket
  const store = Store.open(config.storePath);
  defer(t, () => store.close());
  const buckets = store.telemetry.list({ agentId: agent.agentId, fromMs: 0, toMs: Date.now() + 60_000 });
  assert.ok(buckets.length >= 1, "telemetry stored");
  assert.ok(buckets.every((b) => b.bucketMs === 60_000 && b.source === "estimate"));
  assert.ok(buckets.reduce((s, b) => s + b.samples, 0) >= 3);
  assert.ok(buckets.reduce((s, b) => s + b.energyJoules, 0) > 0);
  assert.ok(buckets.some((b) => b.busySamples > 0 || b.samples > 0));
});
