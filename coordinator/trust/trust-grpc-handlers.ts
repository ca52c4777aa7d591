import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from "@grpc/grpc-js";
import type {
  AgentDecision, AgentRef, CreateJoinTokenRequest, CreateJoinTokenResponse, EnrollmentServer, EnrollRequest, EnrollResponse,
  RotateAdminRequest, RotateAdminResponse, StudioAdminServer,
} from "../../proto/gen/nightshift/v1/enrollment.ts";
import { toServiceError } from "../grpc/grpc-errors.ts";
import { EnrollmentRefusedError, type EnrollmentService } from "./enrollment-service.ts";
import type { StudioTrust } from "./studio-trust.ts";

function respond<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then((res) => callback(null, res))
      .catch((err: unknown) => callback(toTrustError(err)));
  };
}

/** Refusals carry their reason in metadata `refusal`, so the agent can say exactly what was wrong. */
function toTrustError(err: unknown): Partial<ServiceError> {
  if (err instanceof EnrollmentRefusedError) {
    const metadata = new Metadata();
    metadata.set("refusal", err.refusal);
    return { code: err.refusal === "busy" ? status.RESOURCE_EXHAUSTED : status.PERMISSION_DENIED, details: err.message, metadata };
  }
  return toServiceError(err);
}

/** The enrollment listener's one service (server-only TLS, no identity needed). */
export function enrollmentHandler(service: EnrollmentService): EnrollmentServer {
  return {
    enroll: respond<EnrollRequest, EnrollResponse>(async (req, call) => {
      const outcome = await service.enroll({
        publicKeyPem: req.publicKeyPem,
        joinToken: req.joinToken,
        name: req.name,
        version: req.version,
        gpus: req.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes })),
        peer: call.getPeer(),
      });
      return { status: outcome.status, agentId: outcome.agentId, certPem: outcome.certPem, caPem: outcome.caPem, message: outcome.message };
    }),
  };
}

/** Admin-only calls on the mutual-TLS port (the peer guard checks the admin certificate first). */
export function studioAdminHandler(trust: StudioTrust, service: EnrollmentService, enrollPort: () => number): StudioAdminServer {
  return {
    createJoinToken: respond<CreateJoinTokenRequest, CreateJoinTokenResponse>((req) => {
      const ttlMs = req.neverExpires ? null : req.ttlMs > 0 ? req.ttlMs : undefined;
      const { token, record } = trust.tokens.create({
        ...(ttlMs === undefined ? {} : { ttlMs }),
        multiUse: req.multiUse,
        ...(req.label ? { label: req.label.slice(0, 200) } : {}),
      });
      return { token, caFingerprint: trust.caFingerprint, expiresAtMs: record.expiresAt ?? 0, multiUse: record.multiUse, enrollPort: enrollPort() };
    }),
    approveAgent: respond<AgentRef, AgentDecision>((req) => service.approve(req.agentId)),
    removeAgent: respond<AgentRef, AgentDecision>((req) => service.remove(req.agentId)),
    rotateAdminCredentials: respond<RotateAdminRequest, RotateAdminResponse>((req, call) => trust.rotateAdmin(call.getAuthContext()?.sslPeerCertificate, req.publicKeyPem)),
  };
}
