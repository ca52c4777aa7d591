import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  COMPUTE_APPS_FIELDS,
  GPU_QUERY_FIELDS,
  parseComputeAppsOutput,
  parseComputeAppValues,
  parseGpuQueryLine,
  parseGpuQueryOutput,
  parseGpuQueryValues,
  selectColumns,
  smiNumber,
  smiValue,
  splitSmiCsvLine,
} from "../../agent/probe/nvidia-smi-csv.ts";

const fixture = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/probe/${name}`, import.meta.url), "utf8").split("\n").filter((l) => l !== "");
const MIB = 1024 * 1024;
const UUID = "GPU-00000000-0000-0000-0000-000000000000";

test("H100 capture, idle and load rows, with units", () => {
  const [header, idle, load] = fixture("nvidia-smi-h100-590.48.01-query-gpu.csv") as [string, string, string];
  assert.deepEqual(parseGpuQueryValues(selectColumns(header, idle, GPU_QUERY_FIELDS)), {
    index: 0,
    uuid: UUID,
    name: "NVIDIA H100 80GB HBM3",
    powerWatts: 69.85,
    powerLimitWatts: 700,
    memoryUsedBytes: 0,
    memoryTotalBytes: 81559 * MIB,
    utilizationGpuPercent: 0,
    temperatureC: 41,
  });
  const loaded = parseGpuQueryValues(selectColumns(header, load, GPU_QUERY_FIELDS));
  assert.equal(loaded?.powerWatts, 631.95);
  assert.equal(loaded?.memoryUsedBytes, 19818 * MIB);
  assert.equal(loaded?.utilizationGpuPercent, 100);
  assert.equal(loaded?.temperatureC, 59);
});

test("the same values as a noheader,nounits line parse the same", () => {
  const [header, load] = [fixture("nvidia-smi-h100-590.48.01-query-gpu.csv")[0] as string, fixture("nvidia-smi-h100-590.48.01-query-gpu.csv")[2] as string];
  const withUnits = selectColumns(header, load, GPU_QUERY_FIELDS);
  // nounits drops the " W" / " MiB" / " %" suffixes.
  const nounitsLine = withUnits.map((v) => v.replace(/ (W|MiB|%)$/, "")).join(", ");
  assert.equal(nounitsLine, `0, ${UUID}, NVIDIA H100 80GB HBM3, 631.95, 700.00, 19818, 81559, 100, 59`);
  assert.deepEqual(parseGpuQueryLine(nounitsLine), parseGpuQueryValues(withUnits));
});

test("MIG mode: utilization.gpu is [N/A] and reads as null", () => {
  const [header, row] = fixture("nvidia-smi-h100-mig-590.48.01-query-gpu.csv") as [string, string];
  const r = parseGpuQueryValues(selectColumns(header, row, GPU_QUERY_FIELDS));
  assert.equal(r?.utilizationGpuPercent, null);
  assert.equal(r?.powerWatts, 433.78);
  assert.equal(r?.memoryUsedBytes, 11125 * MIB);
});

test("compute apps from the H100 capture (header used_gpu_memory for query used_memory)", () => {
  const [header, ...rows] = fixture("nvidia-smi-h100-590.48.01-compute-apps.csv") as [string, ...string[]];
  const apps = rows.map((r) => parseComputeAppValues(selectColumns(header, r, COMPUTE_APPS_FIELDS)));
  assert.deepEqual(apps, [
    { pid: 11327, usedMemoryBytes: 2566 * MIB, gpuUuid: UUID },
    { pid: 11328, usedMemoryBytes: 1542 * MIB, gpuUuid: UUID },
    { pid: 11345, usedMemoryBytes: 15690 * MIB, gpuUuid: UUID },
  ]);
  const nounits = `11345, 15690, ${UUID}\n\n11328, [N/A], ${UUID}\n`;
  assert.deepEqual(parseComputeAppsOutput(nounits), [
    { pid: 11345, usedMemoryBytes: 15690 * MIB, gpuUuid: UUID },
    { pid: 11328, usedMemoryBytes: null, gpuUuid: UUID },
  ]);
  assert.deepEqual(parseComputeAppsOutput(""), []);
});

test("RTX 2080 nounits line from an old driver: bare N/A is null", () => {
  // Query: power.limit,power.min_limit,power.max_limit,memory.total,vbios_version,driver_version,name,
  // gpu_uuid,power.draw,temperature.gpu,temperature.memory,... (see fixtures README)
  const values = splitSmiCsvLine(fixture("nvidia-smi-rtx2080-440.64-nounits.txt")[0] as string);
  assert.equal(values.length, 19);
  assert.equal(smiNumber(values[0] as string), 200);
  assert.equal(smiNumber(values[3] as string), 7979);
  assert.equal(smiValue(values[6] as string), "GeForce RTX 2080");
  assert.equal(smiNumber(values[8] as string), 176.98);
  assert.equal(smiValue(values[10] as string), null);
  assert.equal(smiNumber(values[10] as string), null);
  assert.equal(smiNumber(values[18] as string), null); // "P2" is not a number
});

test("power.draw of three GPUs, nounits", () => {
  assert.deepEqual(fixture("nvidia-smi-3gpu-power-draw-nounits.txt").map(smiNumber), [133.91, 189.84, 104.34]);
});

test("nvidia-smi's notes for missing values all read as null", () => {
  for (const note of ["[N/A]", "N/A", "[Not Supported]", "[Insufficient Permissions]", "[Unknown Error]", "[Requested functionality has been deprecated]", ""]) {
    assert.equal(smiValue(note), null, note);
    assert.equal(smiNumber(note), null, note);
  }
  assert.equal(smiNumber("69.85 W"), 69.85);
  assert.equal(smiNumber("100.00 %"), 100);
  assert.equal(smiNumber("-8"), -8);
});

test("a name with a comma is joined back; short and foreign lines are skipped", () => {
  const line = "1, GPU-aaaa, NVIDIA A100, Rev 2, [Not Supported], 400.00, 1024, 81920, [N/A], 70";
  const r = parseGpuQueryLine(line);
  assert.equal(r?.name, "NVIDIA A100, Rev 2");
  assert.equal(r?.powerWatts, null);
  assert.equal(r?.memoryTotalBytes, 81920 * MIB);
  assert.equal(r?.utilizationGpuPercent, null);
  assert.equal(r?.temperatureC, 70);
  assert.equal(parseGpuQueryLine("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."), null);
  assert.equal(parseGpuQueryLine("0, GPU-x, name"), null);
  assert.equal(parseGpuQueryOutput(`${line}\n\nNo devices were found\n`).length, 1);
});

test("selectColumns refuses a field the header lacks", () => {
  assert.throws(() => selectColumns("a, b", "1, 2", ["c"]), /not in the header/);
});
