/**
 * NVML return codes (nvmlReturn_t in nvml.h), mapped to names in one place.
 * Values checked against nvml.h (CUDA 12.x): 0-29 and 999.
 */
export const NVML_RETURN_NAMES: Readonly<Record<number, string>> = {
  0: "SUCCESS",
  1: "UNINITIALIZED",
  2: "INVALID_ARGUMENT",
  3: "NOT_SUPPORTED",
  4: "NO_PERMISSION",
  5: "ALREADY_INITIALIZED",
  6: "NOT_FOUND",
  7: "INSUFFICIENT_SIZE",
  8: "INSUFFICIENT_POWER",
  9: "DRIVER_NOT_LOADED",
  10: "TIMEOUT",
  11: "IRQ_ISSUE",
  12: "LIBRARY_NOT_FOUND",
  13: "FUNCTION_NOT_FOUND",
  14: "CORRUPTED_INFOROM",
  15: "GPU_IS_LOST",
  16: "RESET_REQUIRED",
  17: "OPERATING_SYSTEM",
  18: "LIB_RM_VERSION_MISMATCH",
  19: "IN_USE",
  20: "MEMORY",
  21: "NO_DATA",
  22: "VGPU_ECC_NOT_SUPPORTED",
  23: "INSUFFICIENT_RESOURCES",
  24: "FREQ_NOT_SUPPORTED",
  25: "ARGUMENT_VERSION_MISMATCH",
  26: "DEPRECATED",
  27: "NOT_READY",
  28: "GPU_NOT_FOUND",
  29: "INVALID_STATE",
  999: "UNKNOWN",
};

export const NVML_SUCCESS = 0;
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_NO_PERMISSION = 4;
export const NVML_ERROR_INSUFFICIENT_SIZE = 7;
export const NVML_ERROR_FUNCTION_NOT_FOUND = 13;

/**
 * Codes meaning "this query gives no value here" rather than a failure: the
 * device or driver does not support it, this user may not ask, the driver
 * lacks the function, or there is no data yet. Such queries read as null.
 */
const UNAVAILABLE = new Set([3, 4, 13, 21, 26]);

export function nvmlReturnName(code: number): string {
  return NVML_RETURN_NAMES[code] ?? `UNRECOGNISED(${code})`;
}

export type NvmlOutcome = "success" | "unavailable" | "error";

/** How a query's return code is treated: a value, null, or an NvmlError. */
export function classifyNvmlReturn(code: number): NvmlOutcome {
  if (code === NVML_SUCCESS) return "success";
  return UNAVAILABLE.has(code) ? "unavailable" : "error";
}

/** A failing NVML call, with the code and its name. */
export class NvmlError extends Error {
  override readonly name = "NvmlError";
  readonly codeName: string;
  constructor(
    readonly fn: string,
    readonly code: number,
    detail?: string,
  ) {
    super(`${fn} failed: NVML_ERROR_${nvmlReturnName(code)}${detail === undefined ? "" : ` (${detail})`}`);
    this.codeName = nvmlReturnName(code);
  }
}

/**
 * Turns a return code into the query's result: the value on success, null when
 * the query is unavailable here, an NvmlError otherwise.
 */
export function nvmlResult<T>(fn: string, code: number, value: () => T): T | null {
  switch (classifyNvmlReturn(code)) {
    case "success":
      return value();
    case "unavailable":
      return null;
    default:
      throw new NvmlError(fn, code);
  }
}
