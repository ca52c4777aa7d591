import assert from "node:assert/strict";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { runCli } from "../support/run-cli.ts";
import { generatedJob, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";

// The coordinator's models folder and the agent's are both empty: the model exists only in the store, added with the CLI.

test("an agent with an empty models folder renders a job whose model is only in the coordinator's store", async (t) => {
  const dir = tempDir(t, "ns-e2e-models-");
  const empty = join(dir, "no-models");
  mkdirSync(empty);
  const c = await startTestCoordinator(t, dir, { modelsDir: empty });
  const admin = ["--coordinator", c.address, "--admin-credentials", join(dir, "data", "admin")];

  const added = await runCli(["models", "add", join(BUNDLED_MODELS_DIR, "colour-grade.onnx"), "--name", "store-grade", "--license", "Apache-2.0", "--source", "https://example.invalid/colour-grade", "--json", ...admin]);
  assert.equal(added.status, 0, added.stderr);
  const model = JSON.parse(added.stdout) as { name: string; sha256: string; size: number; license: string };
  assert.equal(model.name, "store-grade");
  assert.equal(model.license, "Apache-2.0");
  const listed = await runCli(["models", "list", "--json", ...admin]);
  assert.equal(listed.status, 0, listed.stderr);
  const all = JSON.parse(listed.stdout) as Array<{ name: string; sha256: string; manifest: { name: string; memoryBytes: number } }>;
  assert.deepEqual(all.map((m) => [m.name, m.sha256, m.manifest.name]), [["store-grade", model.sha256, "store-grade"]]);

  const agent = await startLocalAgent(t, c, dir, "fresh", { modelsDir: empty });
  assert.deepEqual(agent.assets.hashes(), []);
  const jobFile = join(dir, "job.json");
  writeFileSync(jobFile, JSON.stringify({ ...generatedJob("from-store", 6, 32, 18, 3), steps: [{ id: "grade", kind: "model", model: "store-grade" }] }));
  const submitted = await runCli(["submit", jobFile, "--wait", "--json", ...admin], { timeoutMs: 120_000 });
  assert.equal(submitted.status, 0, submitted.stdout + submitted.stderr);
  const job = JSON.parse(submitted.stdout) as { id: string; state: string; framesDone: number; outputDir: string };
  assert.equal(job.state, "done");
  assert.equal(job.framesDone, 6);
  assert.equal(readdirSync(job.outputDir).filter((f) => f.endsWith(".png")).length, 6);
  assert.equal(c.store.jobs.get(job.id)?.modelSha256, model.sha256);
  assert.deepEqual(agent.assets.hashes(), [model.sha256], "the agent fetched the model into its cache");
  // The heartbeat tells the coordinator what the agent holds.
  await waitUntil(() => c.registry.live.get(agent.agentId)?.cachedAssets?.includes(model.sha256), 10_000, "the cached model in a heartbeat");

  const removed = await runCli(["models", "rm", "store-grade", ...admin]);
  assert.equal(removed.status, 0, removed.stderr);
  assert.equal(c.assets.has({ sha256: model.sha256, size: model.size }), false, "the last name of the bytes went, and the bytes with it");
});

test("models add refuses what it cannot vouch for, with exit 2 naming the problem", async (t) => {
  const dir = tempDir(t, "ns-e2e-models-");
  const c = await startTestCoordinator(t, dir);
  const admin = ["--coordinator", c.address, "--admin-credentials", join(dir, "data", "admin")];
  const model = join(BUNDLED_MODELS_DIR, "colour-grade.onnx");
  const cases: Array<[string[], RegExp]> = [
    [["models", "add", join(dir, "nope.onnx"), "--name", "x"], /nope\.onnx: cannot read the model file/],
    [["models", "add", "/etc/hostname", "--name", "x"], /no manifest beside it/],
    [["models", "add", model, "--name", "../evil"], /--name/],
    [["models", "add", model, "--name", "ok", "--license", "MIT; rm -rf /"], /--license/],
    [["models", "add", model, "--name", "ok", "--source", "file:///etc/passwd"], /--source/],
    [["models", "rm", "never-added"], /no model 'never-added'/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli([...args, ...admin]);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
  assert.deepEqual(c.store.models.list(), []);
  assert.deepEqual(c.assets.list(), []);
});

test("a store model whose bytes an agent already has in its models folder counts as cached and is never fetched", async (t) => {
  const dir = tempDir(t, "ns-e2e-models-");
  const empty = join(dir, "no-models");
  mkdirSync(empty);
  const c = await startTestCoordinator(t, dir, { modelsDir: empty });
  const admin = ["--coordinator", c.address, "--admin-credentials", join(dir, "data", "admin")];
  // The store knows the bundled colour-grade model's bytes under another name; the agent has them in its folder.
  const added = await runCli(["models", "add", join(BUNDLED_MODELS_DIR, "colour-grade.onnx"), "--name", "house-grade", "--json", ...admin]);
  assert.equal(added.status, 0, added.stderr);
  const model = JSON.parse(added.stdout) as { sha256: string };
  const agent = await startLocalAgent(t, c, dir, "stocked", { modelsDir: BUNDLED_MODELS_DIR });
  await waitUntil(() => c.registry.live.get(agent.agentId)?.cachedAssets?.includes(model.sha256), 10_000, "the folder's model in a heartbeat");

  const jobFile = join(dir, "job.json");
  writeFileSync(jobFile, JSON.stringify({ ...generatedJob("from-folder", 3, 16, 9, 3), steps: [{ id: "grade", kind: "model", model: "house-grade" }] }));
  const submitted = await runCli(["submit", jobFile, "--wait", "--json", ...admin], { timeoutMs: 120_000 });
  assert.equal(submitted.status, 0, submitted.stdout + submitted.stderr);
  assert.equal((JSON.parse(submitted.stdout) as { state: string }).state, "done");
  assert.deepEqual(agent.assets.hashes(), [], "the agent used its own copy: nothing was fetched into its cache");
});
