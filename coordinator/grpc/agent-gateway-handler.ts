import type { AgentGatewayServer, ClaimRequest, ClaimResponse, FailureAck, FailureReport, JoinRequest, JoinResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import type { AgentRegistry } from "../agents/agent-registry.ts";
import type { ClaimService } from "../dispatch/claim-service.ts";
import { unary } from "./grpc-errors.ts";

export interface GatewayConnectInfo {
  natsServers: () => string[];
  subjectPrefix: string;
  heartbeatMs: number;
  /** Per-agent NATS credentials (issued at enrollment); empty when the server has no auth. */
  natsCredentials(agentId: string): { user: string; password: string };
}

export function agentGatewayHandler(registry: AgentRegistry, claims: ClaimService, connect: GatewayConnectInfo): AgentGatewayServer {
  return {
    join: unary<JoinRequest, JoinResponse>(async (req) => {
      const agent = await registry.join({
        agentId: req.agentId,
        name: req.name,
        version: req.version,
        gpus: req.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes, uuid: g.uuid })),
        ramBytes: req.ramBytes,
        cpuCount: req.cpuCount,
        tags: req.tags,
        executors: req.executors,
        address: "",
      });
      const creds = connect.natsCredentials(agent.id);
      return {
        agentId: agent.id,
        natsServers: connect.natsServers(),
        natsUser: creds.user,
        natsPassword: creds.password,
        subjectPrefix: connect.subjectPrefix,
        heartbeatMs: connect.heartbeatMs,
      };
    }),
    claim: unary<ClaimRequest, ClaimResponse>((req) => {
      const r = claims.claim(req.agentId, req.chunkId, req.dispatchId);
      return r.skip
        ? { skip: true, reason: r.reason, attemptId: "", workJson: "" }
        : { skip: false, reason: "", attemptId: r.attemptId, workJson: JSON.stringify(r.work) };
    }),
    reportFailure: unary<FailureReport, FailureAck>((req) => ({
      outcome: claims.reportFailure(req.agentId, req.attemptId, req.error, req.handedBack),
    })),
  };
}
