import { BadInputError, MissingDependencyError } from "../shared/errors.ts";
import { CorruptStoreError } from "../coordinator/store/corrupt-store-error.ts";

/**
 * The gRPC status codes this file maps, as the gRPC spec numbers them (grpc-js's `status` enum has the same
 * values). Spelled out so that starting the CLI does not load grpc-js.
 */
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** The one place errors become exit codes and a message for the terminal. */
export function describeFailure(err: unknown): { code: number; message: string } {
  if (err instanceof BadInputError) return { code: EXIT_BAD_INPUT, message: err.message };
  if (err instanceof MissingDependencyError) return { code: EXIT_FAILURE, message: `${err.message}: ${err.instruction}` };
  if (err instanceof CorruptStoreError) return { code: EXIT_FAILURE, message: err.message };
  const grpcCode = (err as { code?: unknown }).code;
  const details = (err as { details?: unknown }).details;
  if (typeof grpcCode === "number" && typeof details === "string") {
    if (grpcCode === GRPC_INVALID_ARGUMENT || grpcCode === GRPC_NOT_FOUND) return { code: EXIT_BAD_INPUT, message: details };
    if (grpcCode === GRPC_UNAVAILABLE) return { code: EXIT_FAILURE, message: `coordinator unreachable: ${details}` };
    return { code: EXIT_FAILURE, message: details };
  }
  if ((err as { code?: unknown }).code === "commander.invalidArgument") return { code: EXIT_BAD_INPUT, message: (err as Error).message };
  return { code: EXIT_FAILURE, message: err instanceof Error ? err.message : String(err) };
}
