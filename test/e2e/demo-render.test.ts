import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { removeTextChunk } from "../../shared/media/png-text-chunk.ts";
import { PROVENANCE_KEYWORD } from "../../shared/provenance/provenance-manifest.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { runDemo } from "../../cli/demo/run-demo.ts";
import { silentLogger } from "../../shared/log.ts";
import { Store } from "../../coordinator/store/store.ts";
import { generateFrame } from "../../shared/media/generated-frames.ts";
import { OnnxExecutor, gradeFrameDirect } from "../../agent/executors/onnx-executor.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { BUNDLED_MODELS_DIR, PROJECT_ROOT } from "../../cli/paths.ts";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("demo path: every frame exists once, with the bytes the model gives when run directly", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ns-e2e-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const frames = 20;
  const r = await runDemo({ frames, agents: 2, dir, width: 96, height: 54, log: silentLogger() });

  assert.equal(r.state, "done");
  assert.equal(r.frames, frames);
  assert.equal(r.chunks, 3); // 8 + 8 + 4
  const names = readdirSync(r.outputDir).filter((f) => f.endsWith(".png")).sort();
  assert.deepEqual(names, Array.from({ length: frames }, (_, i) => `frame_${String(i).padStart(6, "0")}.png`));
  assert.equal(readdirSync(join(dir, "output")).includes(".nightshift-staging") ? readdirSync(join(dir, "output", ".nightshift-staging")).length : 0, 0);

  const model = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade");
  const exec = new OnnxExecutor({ manifest: model.manifest, modelPath: model.modelPath, intraOpThreads: 1 });
  await exec.load();
  t.after(() => exec.close());
  const store = Store.open(join(r.dataDir, "nightshift.db"));
  t.after(() => store.close());
  const rows = store.frames.listByJob(r.jobId);
  assert.equal(rows.length, frames, "one audit row per frame");
  for (let i = 0; i < frames; i++) {
    // The agent's PNG as it was, once the provenance chunk the sink added is taken out again.
    const onDisk = removeTextChunk(readFileSync(join(r.outputDir, names[i] as string)), PROVENANCE_KEYWORD);
    const expected = await gradeFrameDirect(exec, generateFrame(i, 96, 54, 7));
    assert.equal(sha(onDisk), sha(expected.png), `frame ${i} differs from the model run directly`);
    const row = rows[i];
    assert.ok(row);
    assert.equal(row.frame, i);
    assert.equal(row.sha256, sha(onDisk));
    assert.equal(row.modelSha256, model.manifest.sha256);
    assert.equal(row.seed, 7);
    assert.ok(store.attempts.get(row.attemptId)?.state === "committed");
  }
  // Frames were split between the two agents, and each chunk is in the ledger once.
  assert.equal(new Set(rows.map((x) => x.attemptId)).size, 3);
  assert.equal(store.ledger.listByJob(r.jobId).length, 3);
  assert.equal(r.agents.reduce((a, x) => a + x.frames, 0), frames);
  for (const a of r.agents) {
    assert.ok(a.energyWh > 0, "energy is reported");
    assert.ok(["nvml", "nvidia-smi", "rapl", "estimate"].includes(a.energySource));
    assert.ok(a.peakMemoryBytes > 0);
  }
  if (spawnSync("ffprobe", ["-version"]).status === 0) {
    assert.ok(r.video && existsSync(r.video));
    const count = execFileSync("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", r.video]);
    assert.equal(Number(count.toString().trim()), frames);
  }
});

test("`nightshift demo --json` exits 0 and prints the documented keys", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ns-e2e-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const res = spawnSync(process.execPath, [join(PROJECT_ROOT, "bin/nightshift.mjs"), "demo", "--frames", "10", "--dir", dir, "--json"], {
    encoding: "utf8",
    env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent" },
    timeout: 120_000,
  });
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout) as Record<string, unknown>;
  for (const k of ["frames", "chunks", "outputDir", "dataDir", "agents", "wallSeconds"]) assert.ok(k in out, `missing key ${k}`);
  assert.equal(out.frames, 10);
  assert.equal(out.chunks, 2);
  assert.ok(existsSync(join(out.dataDir as string, "nightshift.db")), "data dir kept after the demo exits");
  const agents = out.agents as Array<Record<string, unknown>>;
  assert.equal(agents.length, 1);
  for (const k of ["name", "frames", "energyWh", "energySource", "peakMemoryBytes"]) assert.ok(k in (agents[0] ?? {}), `agent key ${k}`);

  // The kept data dir answers `nightshift report --data-dir` offline.
  const rep = spawnSync(process.execPath, [join(PROJECT_ROOT, "bin/nightshift.mjs"), "report", "--data-dir", out.dataDir as string, "--json"], { encoding: "utf8" });
  assert.equal(rep.status, 0, rep.stderr);
  const report = JSON.parse(rep.stdout) as { agents: Array<{ frames: number }>; jobs: Array<{ frames: number; whPerFrame: number }> };
  assert.equal(report.agents[0]?.frames, 10);
  assert.equal(report.jobs[0]?.frames, 10);
  assert.ok((report.jobs[0]?.whPerFrame ?? 0) > 0);
});
