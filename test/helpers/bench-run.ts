import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Runs the benchmarks as real processes for the smoke tests
 * (test/unit/bench-smoke-*.test.ts): each at a tiny size must print one JSON
 * object with positive figures. No speed is asserted: the figures depend on
 * the machine.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface BenchRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runBench(file: string, args: string[]): Promise<BenchRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench", file), ...args],
      { cwd: ROOT, timeout: 150_000, maxBuffer: 8 * 1024 * 1024, env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent" } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

export function parseOne(run: BenchRun): Record<string, unknown> {
  assert.equal(run.code, 0, `bench failed: ${run.stderr.slice(-2000)}`);
  const parsed: unknown = JSON.parse(run.stdout);
  assert.ok(parsed !== null && typeof parsed === "object" && !Array.isArray(parsed), "stdout is one JSON object");
  return parsed as Record<string, unknown>;
}

export function assertPositive(obj: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of keys) {
    const v = obj[k];
    assert.ok(typeof v === "number" && Number.isFinite(v) && v > 0, `${where}.${k} should be a positive number, got ${String(v)}`);
  }
}
