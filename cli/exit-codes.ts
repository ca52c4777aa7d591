import { status } from "@grpc/grpc-js";
import { BadInputError, MissingDependencyError } from "../shared/errors.ts";
import { CorruptStoreError } from "../coordinator/store/open-database.ts";

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
    if (grpcCode === status.INVALID_ARGUMENT || grpcCode === status.NOT_FOUND) return { code: EXIT_BAD_INPUT, message: details };
    if (grpcCode === status.UNAVAILABLE) return { code: EXIT_FAILURE, message: `coordinator unreachable: ${details}` };
    return { code: EXIT_FAILURE, message: details };
  }
  if ((err as { code?: unknown }).code === "commander.invalidArgument") return { code: EXIT_BAD_INPUT, message: (err as Error).message };
  return { code: EXIT_FAILURE, message: err instanceof Error ? err.message : String(err) };
}
