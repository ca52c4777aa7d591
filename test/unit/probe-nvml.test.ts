import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createChunkMeter } from "../../agent/probe/chunk-meter.ts";
import { loadNvml } from "../../agent/probe/nvml.ts";
import { classifyNvmlReturn, NvmlError, nvmlResult, nvmlReturnName } from "../../agent/probe/nvml-errors.ts";
import { createNvmlSource } from "../../agent/probe/nvml-source.ts";

test("return codes map to nvml.h names", () => {
  const expected: [number, string][] = [
    [0, "SUCCESS"],
    [1, "UNINITIALIZED"],
    [2, "INVALID_ARGUMENT"],
    [3, "NOT_SUPPORTED"],
    [4, "NO_PERMISSION"],
    [6, "NOT_FOUND"],
    [7, "INSUFFICIENT_SIZE"],
    [9, "DRIVER_NOT_LOADED"],
    [12, "LIBRARY_NOT_FOUND"],
    [13, "FUNCTION_NOT_FOUND"],
    [15, "GPU_IS_LOST"],
    [18, "LIB_RM_VERSION_MISMATCH"],
    [999, "UNKNOWN"],
  ];
  for (const [code, name] of expected) assert.equal(nvmlReturnName(code), name, String(code));
  assert.equal(nvmlReturnName(4242), "UNRECOGNISED(4242)");
});

test("unsupported queries degrade to null, real failures throw", () => {
  assert.equal(classifyNvmlReturn(0), "success");
  assert.equal(classifyNvmlReturn(3), "unavailable");
  assert.equal(classifyNvmlReturn(4), "unavailable");
  assert.equal(classifyNvmlReturn(13), "unavailable");
  assert.equal(classifyNvmlReturn(15), "error");
  assert.equal(classifyNvmlReturn(999), "error");
  assert.equal(nvmlResult("nvmlDeviceGetPowerUsage", 0, () => 42), 42);
  assert.equal(nvmlResult("nvmlDeviceGetPowerUsage", 3, () => 42), null);
  assert.throws(
    () => nvmlResult("nvmlDeviceGetPowerUsage", 15, () => 42),
    (e: unknown) => e instanceof NvmlError && e.codeName === "GPU_IS_LOST" && /nvmlDeviceGetPowerUsage/.test(e.message),
  );
});

test("without the library, loading reports why and does not throw", async () => {
  const r = await loadNvml({ libraryPath: "/nonexistent/libnvidia-ml.so.1" });
  assert.equal(r.ok, false);
  assert.match(r.ok ? "" : r.reason, /\/nonexistent\/libnvidia-ml\.so\.1 not loadable/);
  // The default library: absent on a machine without the NVIDIA driver, present on a GPU node.
  const d = await loadNvml();
  if (d.ok) d.nvml.shutdown();
  else assert.match(d.reason, /libnvidia-ml\.so\.1/);
});

/** Builds the nvml.h-shaped stand-in library; null when no C compiler is installed. */
function buildFakeNvml(): { dir: string; lib: string } | null {
  const dir = mkdtempSync(join(tmpdir(), "nightshift-fake-nvml-"));
  const lib = join(dir, "libfake-nvml.so");
  const src = fileURLToPath(new URL("../fixtures/probe/fake-nvml.c", import.meta.url));
  try {
    execFileSync("cc", ["-shared", "-fPIC", "-O1", "-o", lib, src], { stdio: "ignore" });
    return { dir, lib };
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

const fake = process.platform === "linux" ? buildFakeNvml() : null;
const skip = fake === null ? "needs a C compiler to build the stand-in library" : false;
process.on("exit", () => {
  if (fake !== null) rmSync(fake.dir, { recursive: true, force: true });
});

test("koffi bindings against C: values, unsupported, and the process-list retry", { skip }, async () => {
  const lib = (fake as { lib: string }).lib;
  process.env.FAKE_NVML_INIT_RC = "9";
  const failed = await loadNvml({ libraryPath: lib });
  delete process.env.FAKE_NVML_INIT_RC;
  assert.deepEqual(failed, { ok: false, reason: "nvmlInit_v2 returned NVML_ERROR_DRIVER_NOT_LOADED" });

  const r = await loadNvml({ libraryPath: lib });
  assert.ok(r.ok);
  const nvml = r.nvml;
  assert.equal(nvml.deviceCount(), 2);
  const d0 = nvml.device(0);
  assert.equal(d0.name(), "NVIDIA H100 80GB HBM3");
  assert.equal(d0.uuid(), "GPU-11111111-2222-3333-4444-555555555555");
  assert.deepEqual(d0.memoryInfo(), { totalBytes: 85_520_809_984, freeBytes: 64_739_082_240, usedBytes: 20_781_727_744 });
  const e1 = d0.totalEnergyMj() as number;
  const e2 = d0.totalEnergyMj() as number;
  assert.ok(e1 > 2 ** 32, "64-bit counter survives marshalling");
  assert.equal(e2 - e1, 1000);
  assert.equal(d0.powerWatts(), 629.45);
  assert.equal(d0.enforcedPowerLimitWatts(), 700);
  assert.deepEqual(d0.utilization(), { gpuPercent: 100, memoryPercent: 11 });
  assert.equal(d0.temperatureC(), 59);
  // The list grows from 1 to 6 between the size query and the fill: the retry must catch it.
  const procs = d0.computeProcesses();
  assert.deepEqual(
    procs?.map((p) => [p.pid, p.usedGpuMemoryBytes, p.computeInstanceId]),
    [
      [11327, 2_690_646_016, 0],
      [11328, null, 1],
      [11345, 16_452_157_440, 2],
      [20001, 1_048_576, 3],
      [20002, 2_097_152, 4],
      [20003, 3_145_728, 5],
    ],
  );
  assert.equal(procs?.[0]?.gpuInstanceId, 0xffffffff);

  const d1 = nvml.device(1);
  assert.equal(d1.powerWatts(), null, "NOT_SUPPORTED");
  assert.equal(d1.totalEnergyMj(), null, "NOT_SUPPORTED");
  assert.equal(d1.temperatureC(), null, "NO_PERMISSION");
  assert.deepEqual(d1.computeProcesses(), []);
  assert.throws(() => nvml.device(7), (e: unknown) => e instanceof NvmlError && e.codeName === "INVALID_ARGUMENT");
  assert.equal(nvml.errorString(3), "Not Supported");

  const only1 = createNvmlSource(nvml, { gpuIndices: [1] });
  assert.equal(only1.ok, false);
  const src = createNvmlSource(nvml, { gpuIndices: [0], ownPids: [11345] });
  assert.ok(src.ok);
  const reading = await src.source.read();
  assert.equal(reading.watts, 629.45);
  assert.equal(reading.vramBytes, 16_452_157_440);
  assert.equal(reading.counters?.[0]?.id, "nvml:GPU-11111111-2222-3333-4444-555555555555");
  assert.equal(reading.counters?.[0]?.joulesPerUnit, 1e-3);

  // Counter path: every read advances the fake counter 1000 mJ, so start + stop = 1 J.
  const meter = createChunkMeter({ source: src.source, intervalMs: 3_600_000 });
  await meter.start();
  const acc = await meter.stop();
  assert.equal(acc.energySource, "nvml");
  assert.ok(Math.abs(acc.energyJoules - 1) < 1e-9, String(acc.energyJoules));
  assert.equal(acc.memoryKind, "vram");
  assert.equal(acc.peakMemoryBytes, 16_452_157_440);

  await src.source.close();
  await src.source.close();
  assert.throws(() => nvml.deviceCount(), NvmlError);
});

test("NVML is chosen first when it answers; inventory lists its GPUs", { skip }, async () => {
  const lib = (fake as { lib: string }).lib;
  const { choosePowerSource } = await import("../../agent/probe/power-source.ts");
  const { probeInventory } = await import("../../agent/probe/gpu-inventory.ts");
  const choice = await choosePowerSource({ nvmlLibraryPath: lib, gpuIndices: [0] });
  assert.equal(choice.source.kind, "nvml");
  assert.deepEqual(choice.skipped, []);
  assert.equal(choice.source.description, "NVML: 1 GPU (NVIDIA H100 80GB HBM3)");
  await choice.source.close();
  // Both GPUs: GPU 1 reports neither power nor energy, so NVML is skipped with that reason.
  const both = await choosePowerSource({ nvmlLibraryPath: lib, smi: { bin: "/nonexistent/nvidia-smi" }, raplRoot: "/nonexistent" });
  assert.equal(both.source.kind, "estimate");
  assert.match(both.skipped[0]?.reason ?? "", /GPU 1 reports neither power nor energy/);
  await both.source.close();
  const inv = await probeInventory({ nvmlLibraryPath: lib });
  assert.equal(inv.gpuSource, "nvml");
  assert.deepEqual(
    inv.gpus.map((g) => [g.index, g.name, g.vramBytes]),
    [
      [0, "NVIDIA H100 80GB HBM3", 85_520_809_984],
      [1, "NVIDIA GeForce RTX 3090", 85_520_809_984],
    ],
  );
});
