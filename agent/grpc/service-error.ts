import { Metadata, status, type ServiceError } from "@grpc/grpc-js";

// Why this file exists: the agent's claim and upload streams fail their calls with errors of their own making,
// which the callers must treat as grpc-js's own (failure-kind.ts, kept-frames.ts read the code).

/** An error shaped as grpc-js's call errors are (`<code> <NAME>: <details>`, code, details, empty metadata). */
export function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

/** What the calls on a stream the agent dropped for new connections fail with (CoordinatorClient.redial): as a broken connection's. */
export function redialled(): ServiceError {
  return serviceError(status.UNAVAILABLE, "the agent dialled the coordinator again");
}
