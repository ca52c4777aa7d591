import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { BadInputError, UploadRefusedError } from "../../shared/errors.ts";

/** Not found: maps to NOT_FOUND. */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

/** Maps a domain error to a gRPC status, in one place. Refusal reasons travel in metadata `refusal`. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const md = new Metadata();
  if (err instanceof BadInputError) {
    if (err.field) md.set("field", err.field);
    return { code: status.INVALID_ARGUMENT, details: err.message, metadata: md };
  }
  if (err instanceof UploadRefusedError) {
    md.set("refusal", err.reason);
    return { code: status.FAILED_PRECONDITION, details: err.message, metadata: md };
  }
  if (err instanceof NotFoundError) return { code: status.NOT_FOUND, details: err.message, metadata: md };
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, details: message, metadata: md };
}

/** Wraps an async unary implementation so every thrown error becomes a mapped status. */
export function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res) {
  return (call: { request: Req }, callback: (err: Partial<ServiceError> | null, res?: Res) => void): void => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then((res) => callback(null, res))
      .catch((err: unknown) => callback(toServiceError(err)));
  };
}
