import { status as grpcStatus } from "@grpc/grpc-js";

/**
 * What a failed attempt says about the agent that ran it.
 * - "refused": the sink turned the upload down (stale or superseded attempt); not a render failure.
 * - "handed-back": the chunk never had a fair run here — the agent aborted it (draining, stopping) or the
 *   coordinator went away under it (a restart drops every stream at once). The chunk goes back to the queue
 *   and the failure counts neither against the chunk nor towards the agent's blocklist.
 * - "failed": the work itself failed on this agent.
 */
export type FailureKind = "refused" | "handed-back" | "failed";

export function failureKind(err: unknown, aborted: boolean): FailureKind {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === grpcStatus.FAILED_PRECONDITION) return "refused";
  if (aborted || code === grpcStatus.UNAVAILABLE) return "handed-back";
  return "failed";
}
