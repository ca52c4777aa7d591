import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { assertPositive, parseOne, runBench } from "../helpers/bench-run.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * Smoke tests of asset transfer, the job-end manifest, and a bad flag: each runs as a real process at a tiny size and must
 * print one JSON object with positive figures and leave nothing in its temp
 * parent. The benchmarks are split over four files so that each file stays
 * well inside the runner's per-file timeout on a loaded 2-core machine (one
 * file of all of them passed 180 s at load 10-17).
 */

test("a bad flag is refused with exit code 2 naming the flag", async () => {
  const run = await runBench("sink-throughput.bench.ts", ["--frame-bytes", "12"]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /--frame-bytes/);
  const unknown = await runBench("onnx-in-farm.bench.ts", ["--framez", "8"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /framez/);
});

test("asset-transfer prints the fetch against the raw TCP copy and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("asset-transfer.bench.ts", ["--mib", "2", "--rounds", "1", "--dir", parent]));
  assert.equal(out.benchmark, "asset-transfer");
  assert.equal(out.bytes, 2 * 1024 * 1024);
  assertPositive(out, ["ratio"], "assetTransfer");
  assert.equal(out.ratioTopology, "split", "the figure is the two-process topology");
  for (const topology of ["split", "same"]) {
    assertPositive(out[topology] as Record<string, unknown>, ["rawTcpMBps", "fetchMBps", "ratio", "medianRatio"], `assetTransfer.${topology}`);
  }
  assertPositive(out.split as Record<string, unknown>, ["bareGrpcMBps", "medianRatioVsBareGrpc", "bareGrpcMedianRatioVsRawTcp"], "assetTransfer.split");
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("job-manifest-cost writes the job end's manifest from the store and read back, checks they match, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("job-manifest-cost.bench.ts", ["--frames", "8", "--rounds", "1", "--dir", parent]));
  assert.equal(out.benchmark, "job-manifest-cost");
  const [job] = out.jobEnd as Array<Record<string, unknown>>;
  assert.equal(job?.frames, 8);
  assert.equal(job?.sameFrames, true);
  assertPositive(job!, ["storeMs", "readBackMs", "ratio"], "jobManifestCost.jobEnd");
  assertPositive(out.commitPathCpuUsPerFrame as Record<string, unknown>, ["baselineVerifyHash", "finishHash"], "jobManifestCost.commitPath");
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});
