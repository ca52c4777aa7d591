import {
  bindNvml,
  NVML_NAME_BUFFER_SIZE,
  NVML_TEMPERATURE_GPU,
  NVML_UUID_BUFFER_SIZE,
  type CFn,
  type Koffi,
  type NvmlBindings,
} from "./nvml-bindings.ts";
import {
  NVML_ERROR_INSUFFICIENT_SIZE,
  NVML_SUCCESS,
  NvmlError,
  nvmlResult,
  nvmlReturnName,
} from "./nvml-errors.ts";

/**
 * NVIDIA Management Library through koffi (no compiler needed). Every query
 * returns null where NVML says the value is unavailable on this device
 * (NOT_SUPPORTED, NO_PERMISSION, FUNCTION_NOT_FOUND, ...) and throws an
 * NvmlError for real failures (GPU_IS_LOST, UNKNOWN, ...). Loading never
 * throws: without the library or the driver it reports why.
 */

export interface NvmlMemoryInfo {
  totalBytes: number;
  freeBytes: number;
  usedBytes: number;
}

export interface NvmlUtilization {
  gpuPercent: number;
  memoryPercent: number;
}

export interface NvmlProcessInfo {
  pid: number;
  /** Null when NVML reports NVML_VALUE_NOT_AVAILABLE (e.g. Windows WDDM). */
  usedGpuMemoryBytes: number | null;
  /** 0xFFFFFFFF unless MIG is enabled. */
  gpuInstanceId: number;
  computeInstanceId: number;
}

export interface NvmlDevice {
  readonly index: number;
  name(): string | null;
  uuid(): string | null;
  memoryInfo(): NvmlMemoryInfo | null;
  /** Millijoules since the driver was loaded (Volta and newer). */
  totalEnergyMj(): number | null;
  /** Board power in watts (NVML reports milliwatts; averaged over 1 s on Ampere+ except GA100). */
  powerWatts(): number | null;
  enforcedPowerLimitWatts(): number | null;
  utilization(): NvmlUtilization | null;
  temperatureC(): number | null;
  /** Processes with a compute context on this device; [] when none. */
  computeProcesses(): NvmlProcessInfo[] | null;
}

export interface Nvml {
  deviceCount(): number;
  device(index: number): NvmlDevice;
  errorString(code: number): string;
  /** Balances nvmlInit_v2; safe to call twice. */
  shutdown(): void;
}

export type NvmlLoad = { ok: true; nvml: Nvml } | { ok: false; reason: string };

export const NVML_DEFAULT_LIBRARY = process.platform === "win32" ? "nvml.dll" : "libnvidia-ml.so.1";
/** nvml.h NVML_VALUE_NOT_AVAILABLE (-1) read back as unsigned long long. */
const ULL_NOT_AVAILABLE = 0xffff_ffff_ffff_ffffn;

function toNumber(v: unknown): number {
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number") return v;
  throw new TypeError(`expected a number from NVML, got ${typeof v}`);
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString("utf8", 0, end === -1 ? buf.length : end);
}

function initAsync(init: CFn): Promise<number> {
  return new Promise((resolve, reject) => {
    init.async((err: unknown, rc: unknown) => (err ? reject(err) : resolve(rc as number)));
  });
}

/** Loads libnvidia-ml and calls nvmlInit_v2 (off the main thread: it can take seconds without persistence mode). */
export async function loadNvml(options: { libraryPath?: string } = {}): Promise<NvmlLoad> {
  const libraryPath = options.libraryPath ?? NVML_DEFAULT_LIBRARY;
  let koffi: Koffi;
  try {
    koffi = (await import("koffi")).default;
  } catch (err) {
    return { ok: false, reason: `koffi (FFI) could not load: ${(err as Error).message}` };
  }
  let b: NvmlBindings;
  try {
    b = bindNvml(koffi, koffi.load(libraryPath));
  } catch (err) {
    return { ok: false, reason: `${libraryPath} not loadable: ${(err as Error).message}` };
  }
  const rc = await initAsync(b.nvmlInit_v2);
  if (rc !== NVML_SUCCESS) {
    return { ok: false, reason: `nvmlInit_v2 returned NVML_ERROR_${nvmlReturnName(rc)}` };
  }
  return { ok: true, nvml: createNvml(koffi, b) };
}

function createNvml(koffi: Koffi, b: NvmlBindings): Nvml {
  let live = true;
  const check = (): void => {
    if (!live) throw new NvmlError("nvml", 1, "used after shutdown");
  };
  return {
    deviceCount(): number {
      check();
      const out = [0];
      const rc = b.nvmlDeviceGetCount_v2(out) as number;
      if (rc !== NVML_SUCCESS) throw new NvmlError("nvmlDeviceGetCount_v2", rc);
      return out[0] as number;
    },
    device(index: number): NvmlDevice {
      check();
      const out: unknown[] = [null];
      const rc = b.nvmlDeviceGetHandleByIndex_v2(index, out) as number;
      if (rc !== NVML_SUCCESS) throw new NvmlError("nvmlDeviceGetHandleByIndex_v2", rc, `index ${index}`);
      return createDevice(koffi, b, index, out[0], check);
    },
    errorString(code: number): string {
      return b.nvmlErrorString(code) as string;
    },
    shutdown(): void {
      if (!live) return;
      live = false;
      b.nvmlShutdown();
    },
  };
}

function createDevice(koffi: Koffi, b: NvmlBindings, index: number, handle: unknown, check: () => void): NvmlDevice {
  /** Calls fn(handle, ...args); null when the driver lacks the function. */
  const call = <T>(name: keyof NvmlBindings, args: unknown[], value: () => T): T | null => {
    check();
    const fn = b[name] as CFn | undefined;
    if (fn === undefined) return null;
    return nvmlResult(name, fn(handle, ...args) as number, value);
  };
  const text = (name: "nvmlDeviceGetName" | "nvmlDeviceGetUUID", size: number): string | null => {
    const buf = Buffer.alloc(size);
    return call(name, [buf, size], () => cString(buf));
  };
  const uint = (name: keyof NvmlBindings, scale: number): number | null => {
    const out = [0];
    return call(name, [out], () => (out[0] as number) / scale);
  };
  return {
    index,
    name: () => text("nvmlDeviceGetName", NVML_NAME_BUFFER_SIZE),
    uuid: () => text("nvmlDeviceGetUUID", NVML_UUID_BUFFER_SIZE),
    memoryInfo(): NvmlMemoryInfo | null {
      const m: Record<string, unknown> = {};
      return call("nvmlDeviceGetMemoryInfo", [m], () => ({
        totalBytes: toNumber(m.total),
        freeBytes: toNumber(m.free),
        usedBytes: toNumber(m.used),
      }));
    },
    totalEnergyMj(): number | null {
      const out: unknown[] = [0];
      return call("nvmlDeviceGetTotalEnergyConsumption", [out], () => toNumber(out[0]));
    },
    powerWatts: () => uint("nvmlDeviceGetPowerUsage", 1000),
    enforcedPowerLimitWatts: () => uint("nvmlDeviceGetEnforcedPowerLimit", 1000),
    utilization(): NvmlUtilization | null {
      const u: Record<string, unknown> = {};
      return call("nvmlDeviceGetUtilizationRates", [u], () => ({
        gpuPercent: toNumber(u.gpu),
        memoryPercent: toNumber(u.memory),
      }));
    },
    temperatureC(): number | null {
      const out = [0];
      return call("nvmlDeviceGetTemperature", [NVML_TEMPERATURE_GPU, out], () => out[0] as number);
    },
    computeProcesses: () => computeProcesses(koffi, b, handle, check),
  };
}

/**
 * nvml.h protocol: call with *infoCount = 0 and infos = NULL; SUCCESS means
 * none are running, INSUFFICIENT_SIZE sets *infoCount to the number needed.
 * The list can grow between calls, so allocate headroom and retry a few times.
 */
function computeProcesses(koffi: Koffi, b: NvmlBindings, handle: unknown, check: () => void): NvmlProcessInfo[] | null {
  check();
  const name = "nvmlDeviceGetComputeRunningProcesses_v3";
  const fn = b.nvmlDeviceGetComputeRunningProcesses_v3;
  if (fn === undefined) return null;
  const count = [0];
  let rc = fn(handle, count, null) as number;
  const size = koffi.sizeof(b.types.processInfo);
  for (let attempt = 0; attempt < 5 && rc === NVML_ERROR_INSUFFICIENT_SIZE; attempt += 1) {
    const capacity = (count[0] as number) + 4;
    const buf = Buffer.alloc(capacity * size);
    count[0] = capacity;
    rc = fn(handle, count, buf) as number;
    if (rc === NVML_SUCCESS) {
      const n = Math.min(count[0] as number, capacity);
      const out: NvmlProcessInfo[] = [];
      for (let i = 0; i < n; i += 1) {
        const p = koffi.decode(buf, i * size, b.types.processInfo) as Record<string, unknown>;
        const used = BigInt(p.usedGpuMemory as number | bigint);
        out.push({
          pid: toNumber(p.pid),
          usedGpuMemoryBytes: used === ULL_NOT_AVAILABLE ? null : Number(used),
          gpuInstanceId: toNumber(p.gpuInstanceId),
          computeInstanceId: toNumber(p.computeInstanceId),
        });
      }
      return out;
    }
  }
  if (rc === NVML_SUCCESS) return [];
  if (rc === NVML_ERROR_INSUFFICIENT_SIZE) throw new NvmlError(name, rc, "process list kept growing");
  return nvmlResult(name, rc, () => []);
}
