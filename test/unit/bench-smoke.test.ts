import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * Smoke tests of the benchmarks: each runs as a real process at a tiny size
 * and must print one JSON object with positive figures and leave nothing in
 * its temp parent. No speed is asserted: the figures depend on the machine.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runBench(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench", file), ...args],
      { cwd: ROOT, timeout: 150_000, maxBuffer: 8 * 1024 * 1024, env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent" } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

function parseOne(run: Run): Record<string, unknown> {
  assert.equal(run.code, 0, `bench failed: ${run.stderr.slice(-2000)}`);
  const parsed: unknown = JSON.parse(run.stdout);
  assert.ok(parsed !== null && typeof parsed === "object" && !Array.isArray(parsed), "stdout is one JSON object");
  return parsed as Record<string, unknown>;
}

function assertPositive(obj: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of keys) {
    const v = obj[k];
    assert.ok(typeof v === "number" && Number.isFinite(v) && v > 0, `${where}.${k} should be a positive number, got ${String(v)}`);
  }
}

test("onnx-in-farm prints its figures for a tiny job and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("onnx-in-farm.bench.ts", ["--frames", "8", "--width", "64", "--height", "36", "--dir", parent]));
  assert.equal(out.benchmark, "onnx-in-farm");
  assert.equal(out.frames, 8);
  assert.equal(out.width, 64);
  assert.equal(out.height, 36);
  assertPositive(out, ["bareFramesPerSecond", "farmFramesPerSecond", "ratio", "farmTotalFramesPerSecond", "ratioTotal"], "onnxInFarm");
  assert.equal(out.sameFrames, true, "the farm must deliver the bytes the bare loop produced");
  const cpu = out.cpuMsPerFrame as { bare: number; farm: { byProcess: Record<string, number>; msPerFrame: Record<string, number> } | null };
  assert.ok(cpu.bare > 0, "the bare loop's CPU per frame");
  if (process.platform === "linux") {
    assert.ok(cpu.farm !== null && (cpu.farm.byProcess.coordinator ?? 0) > 0 && (cpu.farm.byProcess.agent ?? 0) > 0, `farm CPU by process: ${JSON.stringify(cpu.farm)}`);
    for (const key of Object.keys(cpu.farm.msPerFrame)) assert.match(key, /^[\w.-]+\/(main|other|ns-[\w-]+)$/);
  }
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("onnx-in-farm-png times each encoder on model output and checks each is lossless", async () => {
  const out = parseOne(await runBench("onnx-in-farm-png.bench.ts", ["--frames", "2", "--width", "64", "--height", "36", "--reps", "1"]));
  assert.equal(out.benchmark, "onnx-in-farm-png");
  assert.equal(out.lossless, true);
  const encoders = out.encoders as Array<Record<string, unknown>>;
  assert.ok(encoders.length >= 10);
  assert.ok(encoders.some((e) => String(e.name).startsWith("current")));
  for (const e of encoders) assertPositive(e, ["cpuMsPerFrame", "bytesPerFrame", "wallRatioToCurrent"], String(e.name));
});

test("idle-coordinator watches an idle coordinator's threads and timers, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("idle-coordinator.bench.ts", ["--seconds", "2", "--settle", "1", "--dir", parent]));
  assert.equal(out.benchmark, "idle-coordinator");
  const timers = out.timerCallbacksPerSecond as { total: number; bySite: Record<string, number> };
  assert.ok(timers.total > 0, "the coordinator's own timers (dispatcher, agent sweep) are counted");
  assert.ok(Object.keys(timers.bySite).some((site) => site.startsWith("coordinator/")), JSON.stringify(timers.bySite));
  assert.ok(!Object.keys(timers.bySite).some((site) => site.includes("webhook-outbox") || site.includes("disk-full-guard")), "no webhook or full disk: neither polls");
  if (process.platform === "linux") {
    const own = out.coordinator as { cpuMsPerSecond: Record<string, number> };
    assert.ok((own.cpuMsPerSecond.main ?? 0) > 0, JSON.stringify(own));
  }
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("provenance-cost prints the wall and CPU figures with their spread, stops at --rounds, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("provenance-cost.bench.ts", ["--frames", "4", "--width", "64", "--height", "36", "--rounds", "3", "--dir", parent]));
  assert.equal(out.benchmark, "provenance-cost");
  assert.equal(out.rounds, 3);
  assertPositive(out, ["frameMs", "frameWithProvenanceMs"], "provenanceCost");
  assert.ok(Number.isFinite(out.ratio), "ratio is a number");
  const wall = out.wall as Record<string, Record<string, unknown>>;
  const cpu = out.cpu as Record<string, unknown>;
  assertPositive(wall.withoutMsPerFrame!, ["median", "q1", "q3"], "wall.withoutMsPerFrame");
  const paired = wall.pairedRatio as { median: number; interval90: { low: number; high: number } };
  assert.ok(Number.isFinite(paired.median) && paired.interval90.low <= paired.interval90.high, `wall.pairedRatio ${JSON.stringify(paired)}`);
  assertPositive(cpu, ["renderMsPerFrame", "agentPixelHashMsPerFrame"], "cpu");
  assert.equal(cpu.stepsRatio, out.ratio, "the ratio is the CPU figure the aim is judged on");
  const sink = cpu.sinkMsPerFrame as Record<string, Record<string, unknown>>;
  assertPositive(sink.with!, ["median"], "cpu.sinkMsPerFrame.with");
  assertPositive(sink.without!, ["median"], "cpu.sinkMsPerFrame.without");
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("sink-throughput prints one result per frame size, with the Upload-per-chunk arm when asked, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("sink-throughput.bench.ts", ["--frames", "8", "--frame-bytes", "65536,16384", "--dir", parent, "--unary-arm", "true"]));
  assert.equal(out.benchmark, "sink-throughput");
  assert.equal(out.frames, 8);
  assert.equal(out.frameBytes, 65536);
  assertPositive(out, ["rawTcpMBps", "sinkMBps", "ratio"], "sinkThroughput");
  const results = out.results as Array<Record<string, unknown>>;
  assert.deepEqual(results.map((r) => r.frameBytes), [65536, 16384]);
  for (const r of results) {
    assert.equal(r.totalBytes, 8 * (r.frameBytes as number));
    assertPositive(r, ["rawTcpMBps", "sinkMBps", "ratio", "rawTlsMBps", "ratioVsRawTls", "rawTcpFsyncPerFrameMBps", "sinkWithClaimsMBps", "bareGrpcMBps", "ratioVsBareGrpc", "sinkTwoInFlightMBps", "ratioTwoInFlight"], `results[${String(r.frameBytes)}]`);
    const cpu = r.cpuSecondsPerGB as Record<string, Record<string, unknown>>;
    for (const arm of ["sink", "sinkTwoInFlight", "sinkUnary", "rawTcp", "rawTls", "bareGrpc"]) assertPositive(cpu[arm]!, ["receiver", "sender"], `results[${String(r.frameBytes)}].cpuSecondsPerGB.${arm}`);
    assertPositive(r, ["sinkUnaryMBps", "ratioUnary", "streamVsUnary"], `results[${String(r.frameBytes)}]`);
  }
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("sink-call-vs-stream measures the coordinator's CPU per upload as Upload calls and on one stream, in one run", async () => {
  const out = parseOne(await runBench("sink-call-vs-stream.bench.ts", ["--calls", "10", "--rounds", "1", "--gap-ms", "1"]));
  assert.equal(out.benchmark, "sink-call-vs-stream");
  for (const mode of ["warm", "paced"]) assertPositive(out[mode] as Record<string, unknown>, ["unaryUsPerUpload", "streamUsPerUpload", "ratio"], mode);
});

test("upload-stream-open counts the streams opened per chunk, back to back and with gaps between chunks, and prices idle agents' streams", async () => {
  const out = parseOne(await runBench("upload-stream-open.bench.ts", ["--chunks", "2", "--chunk-ms", "2500", "--agents", "2", "--idle-seconds", "1"]));
  assert.equal(out.benchmark, "upload-stream-open");
  for (const arm of ["backToBack", "longChunks"]) {
    const a = out[arm] as { streamsPerChunk: number; latencyMs: Record<string, unknown> };
    assert.equal(a.streamsPerChunk, 0, `${arm}: the stream opened at the warm-up stays open`);
    assertPositive(a.latencyMs, ["p50", "max"], `${arm}.latencyMs`);
  }
  assertPositive(out.idle as Record<string, unknown>, ["streamsOpenedForIdleAgents", "cpuMsPerSecond"], "idle");
});

test("sink-group-commit commits the same chunks one by one and all at once, in one run, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("sink-group-commit.bench.ts", ["--agents", "3", "--frames-per-chunk", "2", "--frame-bytes", "4096", "--rounds", "1", "--arrive-together", "true", "--dir", parent]));
  assert.equal(out.benchmark, "sink-group-commit");
  assert.equal(out.arriveTogether, true);
  assertPositive(out, ["ratio"], "sinkGroupCommit");
  for (const arm of ["serial", "together"]) assertPositive(out[arm] as Record<string, unknown>, ["chunksPerSecond", "transactionsPerRound"], `sinkGroupCommit.${arm}`);
  assert.equal((out.serial as Record<string, unknown>).transactionsPerRound, 3, "one transaction per commit when none overlap");
  // The round's commits reach the group commit at once (--arrive-together, so that the machine's load cannot space them
  // out): the first starts a batch alone, the other two share the next.
  assert.equal((out.together as Record<string, unknown>).transactionsPerRound, 2, "commits that meet share a transaction");
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("sink-staging measures the event loop each staged frame holds against its sha256 alone, per size, and cleans up", async (t) => {
  const parent = tempDir(t, "nightshift-bench-smoke-");
  const out = parseOne(await runBench("sink-staging.bench.ts", ["--frame-bytes", "8192,4096", "--frames-per-chunk", "2", "--chunks", "2", "--rounds", "1", "--dir", parent]));
  assert.equal(out.benchmark, "sink-staging");
  const results = out.results as Array<Record<string, unknown>>;
  assert.deepEqual(results.map((r) => r.frameBytes), [8192, 4096]);
  for (const r of results) assertPositive(r, ["loopMsPerFrame", "sha256MsPerFrame", "loopVsSha256", "stagedAndCommittedMBps"], `sinkStaging.${String(r.frameBytes)}`);
  assert.deepEqual(readdirSync(parent), [], "temp dir removed");
});

test("grpc-tls-front compares grpc-js's own listener with the front in one run and exits", async () => {
  const out = parseOne(await runBench("grpc-tls-front.bench.ts", ["--mb", "2", "--message-bytes", "65536", "--calls", "2", "--rounds", "1"]));
  assert.equal(out.benchmark, "grpc-tls-front");
  assertPositive(out, ["grpcJsMBps", "frontMBps", "ratio", "grpcJsConnectionsPerSecond", "frontConnectionsPerSecond", "connectionRatio"], "grpcTlsFront");
});

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
