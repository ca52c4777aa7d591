import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { STALE_ATTEMPT, UNKNOWN_ATTEMPT } from "../../shared/errors.ts";

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

/**
 * Whether a refused attempt is worth a failure report to the coordinator: not when the refusal's reason
 * (the `refusal` metadata the sink's answer carries: coordinator/grpc/grpc-errors.ts, upload-stream.ts)
 * says the attempt is over there already (committed, lost, replaced by another: `stale-attempt`; or never
 * known: `unknown-attempt`), as after a kept upload's resend to a restarted coordinator that had committed
 * it. Other refusals (a bad frame, a full disk) are reported: they are this attempt's failure.
 */
export function refusalReported(err: unknown): boolean {
  const reason = (err as Partial<ServiceError> | null)?.metadata?.get?.("refusal")?.[0];
  return reason !== STALE_ATTEMPT && reason !== UNKNOWN_ATTEMPT;
}
