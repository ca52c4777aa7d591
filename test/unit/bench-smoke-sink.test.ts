import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { assertPositive, parseOne, runBench } from "../helpers/bench-run.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * Smoke tests of the result sink's and gRPC's benchmarks: each runs as a real process at a tiny size and must
 * print one JSON object with positive figures and leave nothing in its temp
 * parent. The benchmarks are split over four files so that each file stays
 * well inside the runner's per-file timeout on a loaded 2-core machine (one
 * file of all of them passed 180 s at load 10-17).
 */

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
