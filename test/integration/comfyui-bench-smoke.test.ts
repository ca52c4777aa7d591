import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * Smoke test of the comfyui benchmark: a real process (stand-ins, a
 * coordinator, two agents), a handful of prompts, one JSON object with
 * positive per-prompt figures for every path. No speed is asserted.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("the comfyui bench prints direct, executor and farm figures for a few prompts", async () => {
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ["--import", "tsx", join(ROOT, "bench", "comfyui.bench.ts"), "--prompts", "4", "--chunk-size", "2"], { cwd: ROOT, timeout: 300_000, env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent" } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
  assert.equal(run.code, 0, run.stderr.slice(-2000));
  const out = JSON.parse(run.stdout) as { benchmark: string; prompts: number; direct: Record<string, number>; executor: Record<string, number>; farm: Record<string, number>; farmChunked: Record<string, number> };
  assert.equal(out.benchmark, "comfyui");
  assert.equal(out.prompts, 4);
  for (const path of [out.direct, out.executor, out.farm, out.farmChunked]) for (const k of ["cycleP50Ms", "promptP50Ms", "promptsPerSecond"]) assert.ok(path[k]! > 0, `${k} = ${path[k]}`);
  assert.equal(typeof out.farm.overheadP50Ms, "number");

  const bad = await new Promise<number>((resolve) => execFile(process.execPath, ["--import", "tsx", join(ROOT, "bench", "comfyui.bench.ts"), "--prompts", "x"], { cwd: ROOT, timeout: 60_000 }, (err) => resolve(typeof err?.code === "number" ? err.code : 0)));
  assert.equal(bad, 2);
});
