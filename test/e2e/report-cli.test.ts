import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { runDemo } from "../../cli/demo/run-demo.ts";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { silentLogger } from "../../shared/log.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(PROJECT_ROOT, "bin/nightshift.mjs"), ...args], {
    encoding: "utf8",
    env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent" },
    timeout: 60_000,
  });

test("`nightshift report --data-dir` on a finished demo: --json has the documented keys, --csv the same figures", async (t) => {
  const dir = tempDir(t, "ns-e2e-report-");
  const r = await runDemo({ frames: 16, agents: 1, dir, width: 64, height: 36, energySource: "estimate", log: silentLogger() });
  assert.equal(r.state, "done");

  const json = cli("report", "--data-dir", r.dataDir, "--json");
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout) as {
    period: string;
    agents: Array<Record<string, unknown>>;
    jobs: Array<Record<string, unknown>>;
    totals: Record<string, unknown>;
  };
  assert.equal(report.period, "all");
  const agent = report.agents[0]!;
  for (const k of ["name", "frames", "seconds", "energyWh", "energySource", "idleEnergyWh", "peakMemoryBytes", "peakVramBytes", "cost"]) assert.ok(k in agent, `agent.${k}`);
  assert.equal(agent.frames, 16);
  assert.equal(agent.energySource, "estimate");
  assert.equal(agent.peakVramBytes, null, "a CPU agent reports RAM (peakMemoryBytes), not VRAM");
  assert.ok((agent.energyWh as number) > 0);
  assert.ok((agent.idleEnergyWh as number) > 0, "the estimate's idle figure is the idle baseline");
  assert.ok((agent.idleEnergyWh as number) <= (agent.energyWh as number));
  const job = report.jobs.find((j) => j.id === r.jobId)!;
  for (const k of ["id", "frames", "energyWh", "whPerFrame", "cost", "kWh", "whPerVideoSecond", "idleShare"]) assert.ok(k in job, `job.${k}`);
  assert.equal(job.frames, 16);
  assert.ok(Math.abs((job.whPerFrame as number) - (job.energyWh as number) / 16) < 1e-12);

  const one = cli("report", r.jobId, "--data-dir", r.dataDir, "--csv");
  assert.equal(one.status, 0, one.stderr);
  const [header, ...rows] = one.stdout.trim().split("\n").map((l) => l.split(","));
  const jobRow = rows.find((c) => c[0] === "job")!;
  const csvWh = Number(jobRow[header!.indexOf("energy_wh")]);
  assert.ok(Math.abs(csvWh - (job.energyWh as number)) <= 1e-11 * (job.energyWh as number), `csv ${csvWh} vs json ${job.energyWh as number}`);
  assert.equal(rows.at(-1)![0], "total");

  const missing = cli("report", "job_nope", "--data-dir", r.dataDir, "--json");
  assert.equal(missing.status, 2, "an unknown job is bad input");
  assert.match(missing.stderr, /job_nope/);
});
