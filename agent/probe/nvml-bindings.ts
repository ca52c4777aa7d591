import type { LibraryHandle, TypeObject } from "koffi";

/**
 * koffi declarations of the NVML functions the probe uses, exactly as nvml.h
 * declares them (nvmlReturn_t is a C enum: int; nvmlDevice_t is an opaque
 * pointer, `typedef struct nvmlDevice_st* nvmlDevice_t`). A function the
 * installed driver does not export is left undefined and its query reads as
 * unavailable (NVML_ERROR_FUNCTION_NOT_FOUND).
 */

export type Koffi = (typeof import("koffi"))["default"];
/** A parameter type as koffi takes it: a type name, a type object, or an _Out_/_Inout_ marker. */
type ArgType = string | TypeObject | ReturnType<Koffi["out"]>;
/** A koffi-bound C function. */
export type CFn = ((...args: unknown[]) => unknown) & { async: (...args: unknown[]) => void };

/** nvml.h: NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_DEVICE_UUID_V2_BUFFER_SIZE. */
export const NVML_NAME_BUFFER_SIZE = 96;
export const NVML_UUID_BUFFER_SIZE = 96;
/** nvml.h: NVML_TEMPERATURE_GPU. */
export const NVML_TEMPERATURE_GPU = 0;

export interface NvmlTypes {
  device: TypeObject;
  /** nvmlMemory_t: total, free, used (unsigned long long, bytes). */
  memory: TypeObject;
  /** nvmlUtilization_t: gpu, memory (unsigned int, percent). */
  utilization: TypeObject;
  /** nvmlProcessInfo_t (v2 layout, used by the _v3 functions): pid, usedGpuMemory, gpuInstanceId, computeInstanceId. */
  processInfo: TypeObject;
}

export interface NvmlBindings {
  types: NvmlTypes;
  nvmlInit_v2: CFn;
  nvmlShutdown: CFn;
  nvmlErrorString: CFn;
  nvmlDeviceGetCount_v2: CFn;
  nvmlDeviceGetHandleByIndex_v2: CFn;
  nvmlDeviceGetName?: CFn;
  nvmlDeviceGetUUID?: CFn;
  nvmlDeviceGetMemoryInfo?: CFn;
  nvmlDeviceGetTotalEnergyConsumption?: CFn;
  nvmlDeviceGetPowerUsage?: CFn;
  nvmlDeviceGetEnforcedPowerLimit?: CFn;
  nvmlDeviceGetUtilizationRates?: CFn;
  nvmlDeviceGetTemperature?: CFn;
  nvmlDeviceGetComputeRunningProcesses_v3?: CFn;
}

let cachedTypes: NvmlTypes | undefined;

function defineTypes(koffi: Koffi): NvmlTypes {
  cachedTypes ??= {
    device: koffi.pointer(koffi.opaque()),
    memory: koffi.struct({ total: "unsigned long long", free: "unsigned long long", used: "unsigned long long" }),
    utilization: koffi.struct({ gpu: "unsigned int", memory: "unsigned int" }),
    processInfo: koffi.struct({
      pid: "unsigned int",
      usedGpuMemory: "unsigned long long",
      gpuInstanceId: "unsigned int",
      computeInstanceId: "unsigned int",
    }),
  };
  return cachedTypes;
}

/** Declares every function; throws only when one of the core five is missing. */
export function bindNvml(koffi: Koffi, lib: LibraryHandle): NvmlBindings {
  const t = defineTypes(koffi);
  const uintOut = koffi.out(koffi.pointer("unsigned int"));
  const ullOut = koffi.out(koffi.pointer("unsigned long long"));
  const bind = (name: string, args: ArgType[], ret = "int"): CFn => lib.func(name, ret, args) as unknown as CFn;
  const optional = (name: string, args: ArgType[]): CFn | undefined => {
    try {
      return bind(name, args);
    } catch {
      return undefined;
    }
  };
  return {
    types: t,
    nvmlInit_v2: bind("nvmlInit_v2", []),
    nvmlShutdown: bind("nvmlShutdown", []),
    nvmlErrorString: bind("nvmlErrorString", ["int"], "const char *"),
    nvmlDeviceGetCount_v2: bind("nvmlDeviceGetCount_v2", [uintOut]),
    nvmlDeviceGetHandleByIndex_v2: bind("nvmlDeviceGetHandleByIndex_v2", ["unsigned int", koffi.out(koffi.pointer(t.device))]),
    nvmlDeviceGetName: optional("nvmlDeviceGetName", [t.device, "void *", "unsigned int"]),
    nvmlDeviceGetUUID: optional("nvmlDeviceGetUUID", [t.device, "void *", "unsigned int"]),
    nvmlDeviceGetMemoryInfo: optional("nvmlDeviceGetMemoryInfo", [t.device, koffi.out(koffi.pointer(t.memory))]),
    nvmlDeviceGetTotalEnergyConsumption: optional("nvmlDeviceGetTotalEnergyConsumption", [t.device, ullOut]),
    nvmlDeviceGetPowerUsage: optional("nvmlDeviceGetPowerUsage", [t.device, uintOut]),
    nvmlDeviceGetEnforcedPowerLimit: optional("nvmlDeviceGetEnforcedPowerLimit", [t.device, uintOut]),
    nvmlDeviceGetUtilizationRates: optional("nvmlDeviceGetUtilizationRates", [t.device, koffi.out(koffi.pointer(t.utilization))]),
    nvmlDeviceGetTemperature: optional("nvmlDeviceGetTemperature", [t.device, "int", uintOut]),
    nvmlDeviceGetComputeRunningProcesses_v3: optional("nvmlDeviceGetComputeRunningProcesses_v3", [
      t.device,
      koffi.inout(koffi.pointer("unsigned int")),
      "void *",
    ]),
  };
}
