import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { assertPositive, parseOne, runBench } from "../helpers/bench-run.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * Smoke test of `npm run bench` (bench/run-all.ts), which runs the farm's and
 * the sink's benchmarks in turn: it must print one JSON object holding each
 * one's figures and leave nothing in its temp parent. In a file of its own:
 * it takes about a minute under load, and the benchmarks are split over four
 * files so that each stays well inside the runner's per-file timeout on a
 * loaded 2-core machine (one file of all of them passed 180 s at load 10-17).
 */

test("run-all runs both benchmarks and prints one object", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("run-all.ts", ["--frames", "8", "--dir", parent]));
  assert.deepEqual(Object.keys(out).sort(), ["onnxInFarm", "provenanceCost", "sinkThroughput"]);
  const farm = out.onnxInFarm as Record<string, unknown>;
  const sink = out.sinkThroughput as Record<string, unknown>;
  assert.equal(farm.frames, 8);
  assert.equal(sink.frames, 8);
  assertPositive(farm, ["ratio"], "onnxInFarm");
  assertPositive(sink, ["ratio"], "sinkThroughput");
  assert.deepEqual(readdirSync(parent), [], "temp dirs removed");
});
