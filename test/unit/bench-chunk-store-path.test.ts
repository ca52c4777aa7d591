import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, readdirSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/temp-dir.ts";

/** Smoke test of bench/chunk-store-path.bench.ts at a tiny size (no speed asserted): every chunk goes through claim and commit on both sides. */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function runBench(before: string, parent: string, extra: readonly string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench", "chunk-store-path.bench.ts"), "--chunks", "10", "--rounds", "2", "--steps-kb", "2", "--before", before, "--dir", parent, ...extra],
      { cwd: ROOT, timeout: 120_000, env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent" } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

test("chunk-store-path runs this tree against a --before tree (here the same one), prints both figures and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const run = await runBench(ROOT, parent);
  assert.equal(run.code, 0, `bench failed: ${run.stderr.slice(-2000)}`);
  const out = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(out.benchmark, "chunk-store-path");
  for (const k of ["cpuUsPerChunk", "beforeCpuUsPerChunk", "ratioToBefore"]) assert.ok(typeof out[k] === "number" && (out[k] as number) > 0, `${k} is a positive number`);
  const perRound = (out.details as { perRound: Record<string, number[]> }).perRound;
  assert.deepEqual(Object.keys(perRound).sort(), ["before", "this"]);
  for (const rounds of Object.values(perRound)) assert.equal(rounds.length, 2);
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("chunk-store-path against another checkout's copy (its own module instances, both staging threads bundled): both figures printed", async (t) => {
  // Two trees in one process each have their own shared/module-worker.ts; started at once, one tree's finished
  // bundle stopped esbuild under the other's build, and the bench ended with status 0 and nothing printed.
  const other = tempDir(t, "nightshift-bench-other-tree-");
  for (const dir of ["coordinator", "shared", "proto"]) cpSync(join(ROOT, dir), join(other, dir), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(other, "package.json"));
  symlinkSync(join(ROOT, "node_modules"), join(other, "node_modules"));
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const run = await runBench(other, parent);
  assert.equal(run.code, 0, `bench failed: ${run.stderr.slice(-2000)}`);
  const out = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.ok(typeof out.ratioToBefore === "number" && out.ratioToBefore > 0, "ratioToBefore is a positive number");
  assert.deepEqual((out.stagingThread as Record<string, boolean>) ?? {}, { before: true, this: true });
});

test("chunk-store-path's claim modes: on the claim stream beside the previous commit (batched), and claims for the next chunk (next)", async (t) => {
  for (const mode of ["batched", "next"]) {
    const parent = tempDir(t, "nightshift-bench-smoke-");
    const run = await runBench(ROOT, parent, ["--claims", mode]);
    assert.equal(run.code, 0, `bench --claims ${mode} failed: ${run.stderr.slice(-2000)}`);
    const out = JSON.parse(run.stdout) as { claims: string; ratioToBefore: number; details: { claimsInCommitTransaction: Record<string, number | null> } };
    assert.equal(out.claims, mode);
    assert.ok(out.ratioToBefore > 0, `--claims ${mode}: ratioToBefore is a positive number`);
    assert.equal(typeof out.details.claimsInCommitTransaction.this, "number", "this tree counts the claims run in a commit's transaction");
  }
});
