import { BadInputError } from "../../shared/errors.ts";

/**
 * An error as it crosses a worker thread's message port, and back: the
 * agent's worker threads (the onnxruntime session's, the input decoder's)
 * answer a failed request with this, and the main side rebuilds the error,
 * so a BadInputError keeps its class and the field it names.
 */
export interface WorkerErrorData {
  name: string;
  message: string;
  field?: string;
}

export function errorData(err: unknown): WorkerErrorData {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message, ...(err instanceof BadInputError && err.field !== undefined ? { field: err.field } : {}) };
}

export function errorFrom(e: WorkerErrorData): Error {
  if (e.name === "BadInputError") return new BadInputError(e.message, e.field === undefined ? {} : { field: e.field });
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
