import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  gpuMemoryOfPids,
  parseProcStatusBytes,
  readVmHwmBytes,
  startPeakRamTracker,
} from "../../agent/probe/process-memory.ts";
import { otherGpuUsers } from "../../agent/probe/other-gpu-users.ts";

const STATUS = readFileSync(new URL("../fixtures/probe/proc-self-status.txt", import.meta.url), "utf8");

test("VmHWM from a real /proc/<pid>/status", () => {
  // "VmHWM:\t    1744 kB" -> 1744 x 1024 bytes.
  assert.equal(parseProcStatusBytes(STATUS, "VmHWM"), 1744 * 1024);
  assert.equal(parseProcStatusBytes(STATUS, "VmSwap"), 0);
  assert.equal(parseProcStatusBytes(STATUS, "NoSuchKey"), null);
  assert.equal(parseProcStatusBytes(STATUS, "Name"), null);
});

test("this process's high-water mark where /proc exists", async () => {
  const hwm = await readVmHwmBytes();
  if (process.platform === "linux") assert.ok(hwm !== null && hwm >= process.memoryUsage.rss() / 2);
  assert.equal(await readVmHwmBytes(join(tmpdir(), "nightshift-no-status")), null);
});

test("peak RAM tracks the highest sample even after it falls", async () => {
  let rss = 100;
  // clear_refs unavailable (path does not exist): VmHWM is ignored, samples alone count.
  const tracker = await startPeakRamTracker({ rss: () => rss, clearRefsPath: join(tmpdir(), "nightshift-no-clear-refs") });
  rss = 500;
  tracker.sample();
  rss = 200;
  tracker.sample();
  assert.equal(await tracker.peak(), 500);
});

test("peak RAM of the real process includes VmHWM when it can be reset", async () => {
  const tracker = await startPeakRamTracker();
  const big = Buffer.alloc(32 * 1024 * 1024, 1); // touch 32 MiB
  const peak = await tracker.peak();
  assert.ok(peak >= process.memoryUsage.rss() * 0.5 && big.length > 0, String(peak));
});

test("GPU memory of the agent's pids", () => {
  const procs = [
    { pid: 10, usedBytes: 1000 },
    { pid: 11, usedBytes: null },
    { pid: 12, usedBytes: 5 },
  ];
  assert.equal(gpuMemoryOfPids(procs, [10, 11]), 1000);
  assert.equal(gpuMemoryOfPids(procs, [99]), null);
});

test("someone else on the GPU", () => {
  const MiB = 1024 * 1024;
  const procs = [
    { pid: 100, usedBytes: 4000 * MiB, gpuUuid: "GPU-a" },
    { pid: 200, usedBytes: 3 * MiB, gpuUuid: "GPU-a" },
    { pid: 300, usedBytes: null, gpuUuid: "GPU-b" },
  ];
  const mine = otherGpuUsers(procs, [100]);
  assert.equal(mine.busy, true);
  assert.deepEqual(
    mine.others.map((p) => p.pid),
    [200, 300],
  );
  assert.equal(mine.othersBytes, 3 * MiB);
  // Only GPU-a matters and small contexts are ignored: free.
  assert.deepEqual(otherGpuUsers(procs, [100], { gpuUuids: ["GPU-a"], minBytes: 16 * MiB }), { busy: false, others: [], othersBytes: 0 });
  // Unknown memory on a watched GPU still counts as busy.
  assert.equal(otherGpuUsers(procs, [100, 200], { gpuUuids: ["GPU-b"], minBytes: 16 * MiB }).busy, true);
  assert.equal(otherGpuUsers([], [1]).busy, false);
});
