import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/temp-dir.ts";

/** Smoke test of bench/chunk-store-path.bench.ts at a tiny size (no speed asserted): every chunk goes through claim and commit on both sides. */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("chunk-store-path runs this tree against a --before tree (here the same one), prints both figures and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench", "chunk-store-path.bench.ts"), "--chunks", "10", "--rounds", "2", "--steps-kb", "2", "--before", ROOT, "--dir", parent],
      { cwd: ROOT, timeout: 120_000, env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent" } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
  assert.equal(run.code, 0, `bench failed: ${run.stderr.slice(-2000)}`);
  const out = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(out.benchmark, "chunk-store-path");
  for (const k of ["cpuUsPerChunk", "beforeCpuUsPerChunk", "ratioToBefore"]) assert.ok(typeof out[k] === "number" && (out[k] as number) > 0, `${k} is a positive number`);
  const perRound = (out.details as { perRound: Record<string, number[]> }).perRound;
  assert.deepEqual(Object.keys(perRound).sort(), ["before", "this"]);
  for (const rounds of Object.values(perRound)) assert.equal(rounds.length, 2);
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});
