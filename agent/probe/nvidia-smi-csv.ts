/**
 * Pure parsers for `nvidia-smi --query-* --format=csv` output.
 *
 * nvidia-smi separates values with ", " and does not quote. A value it cannot
 * give is printed as a bracketed note ("[N/A]", "[Not Supported]",
 * "[Insufficient Permissions]", "[Requested functionality has been
 * deprecated]", ...) or, on older drivers with nounits, as a bare "N/A".
 * All of these read as null. With units, numbers carry a suffix ("69.85 W",
 * "81559 MiB", "100 %"); the parsers accept numbers with or without it.
 */

/** The fields the sampler asks for, in this order. */
export const GPU_QUERY_FIELDS = [
  "index",
  "uuid",
  "name",
  "power.draw",
  "power.limit",
  "memory.used",
  "memory.total",
  "utilization.gpu",
  "temperature.gpu",
] as const;

export const COMPUTE_APPS_FIELDS = ["pid", "used_memory", "gpu_uuid"] as const;

/** Query names nvidia-smi prints under a different header. */
const HEADER_ALIASES: Readonly<Record<string, string>> = { used_memory: "used_gpu_memory" };

const MIB = 1024 * 1024;

export interface SmiGpuReading {
  index: number;
  uuid: string;
  name: string;
  powerWatts: number | null;
  powerLimitWatts: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  utilizationGpuPercent: number | null;
  temperatureC: number | null;
}

export interface SmiComputeApp {
  pid: number;
  /** Null where nvidia-smi cannot tell (e.g. "[N/A]"). */
  usedMemoryBytes: number | null;
  gpuUuid: string;
}

export function splitSmiCsvLine(line: string): string[] {
  return line.split(",").map((v) => v.trim());
}

/** The value as text, or null for an empty cell or any of nvidia-smi's "no value" notes. */
export function smiValue(raw: string): string | null {
  const v = raw.trim();
  if (v === "" || v === "N/A" || /^\[.*\]$/.test(v)) return null;
  return v;
}

/** A number with an optional unit suffix ("69.85 W", "81559 MiB", "100 %", "41"); null otherwise. */
export function smiNumber(raw: string): number | null {
  const v = smiValue(raw);
  if (v === null) return null;
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%]+)?$/.exec(v);
  return m === null ? null : Number(m[1]);
}

function mibToBytes(raw: string): number | null {
  const n = smiNumber(raw);
  return n === null ? null : Math.round(n * MIB);
}

/**
 * One GPU from values in GPU_QUERY_FIELDS order. A name containing commas
 * splits into extra values; they are joined back. Null when the row is not a
 * GPU row (too few values, no index or uuid).
 */
export function parseGpuQueryValues(values: readonly string[]): SmiGpuReading | null {
  const extra = values.length - GPU_QUERY_FIELDS.length;
  if (extra < 0) return null;
  const v = [values[0], values[1], values.slice(2, 3 + extra).join(", "), ...values.slice(3 + extra)] as string[];
  const index = smiNumber(v[0] as string);
  const uuid = smiValue(v[1] as string);
  if (index === null || !Number.isInteger(index) || uuid === null) return null;
  return {
    index,
    uuid,
    name: smiValue(v[2] as string) ?? "",
    powerWatts: smiNumber(v[3] as string),
    powerLimitWatts: smiNumber(v[4] as string),
    memoryUsedBytes: mibToBytes(v[5] as string),
    memoryTotalBytes: mibToBytes(v[6] as string),
    utilizationGpuPercent: smiNumber(v[7] as string),
    temperatureC: smiNumber(v[8] as string),
  };
}

export function parseGpuQueryLine(line: string): SmiGpuReading | null {
  return line.trim() === "" ? null : parseGpuQueryValues(splitSmiCsvLine(line));
}

/** Every GPU row of a `--query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits` output. */
export function parseGpuQueryOutput(text: string): SmiGpuReading[] {
  return text
    .split(/\r?\n/)
    .map(parseGpuQueryLine)
    .filter((r): r is SmiGpuReading => r !== null);
}

/** One process from values in COMPUTE_APPS_FIELDS order; null when the row is not a process row. */
export function parseComputeAppValues(values: readonly string[]): SmiComputeApp | null {
  if (values.length !== COMPUTE_APPS_FIELDS.length) return null;
  const pid = smiNumber(values[0] as string);
  const gpuUuid = smiValue(values[2] as string);
  if (pid === null || !Number.isInteger(pid) || gpuUuid === null) return null;
  return { pid, usedMemoryBytes: mibToBytes(values[1] as string), gpuUuid };
}

/** Every process row of a `--query-compute-apps=<COMPUTE_APPS_FIELDS> --format=csv,noheader,nounits` output. */
export function parseComputeAppsOutput(text: string): SmiComputeApp[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "")
    .map((l) => parseComputeAppValues(splitSmiCsvLine(l)))
    .filter((r): r is SmiComputeApp => r !== null);
}

/**
 * Picks fields by name from a row printed with a header (`--format=csv`),
 * in the order asked. Header names lose their unit suffix ("power.draw [W]").
 * Throws when a field is not in the header.
 */
export function selectColumns(headerLine: string, rowLine: string, fields: readonly string[]): string[] {
  const names = splitSmiCsvLine(headerLine).map((h) => h.replace(/\s*\[[^\]]*\]$/, ""));
  const row = splitSmiCsvLine(rowLine);
  if (row.length !== names.length) {
    throw new Error(`row has ${row.length} values but the header names ${names.length}`);
  }
  return fields.map((f) => {
    const i = names.indexOf(HEADER_ALIASES[f] ?? f);
    if (i === -1) throw new Error(`field ${f} is not in the header`);
    return row[i] as string;
  });
}
