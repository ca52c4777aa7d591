import type { AgentGatewayServer, AttemptLogAck, AttemptLogReport, ClaimRequest, ClaimResponse, FailureAck, FailureReport, JoinRequest, JoinResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import type { AgentRegistry } from "../agents/agent-registry.ts";
import type { ClaimService } from "../dispatch/claim-service.ts";
import { unary } from "./grpc-errors.ts";
import { ClaimStreams } from "./claim-stream-handler.ts";
import { peerAddress } from "../trust/enrollment-throttle.ts";
import { KindCapabilitySchema, type KindCapability } from "../../shared/steps/kind-capability.ts";

/** The kinds an agent offers; an older agent that sends only kind names offers them without a version. */
function joinKinds(req: JoinRequest): KindCapability[] {
  if (req.kinds.length > 0) {
    return req.kinds.map((k) =>
      KindCapabilitySchema.parse({
        kind: k.kind,
        version: k.version,
        features: k.features,
        ...(k.devices.length > 0 ? { devices: k.devices.map((d) => ({ name: d.name, type: d.type, vramTotal: d.vramTotal, vramFree: d.vramFree })) } : {}),
      }),
    );
  }
  return req.executors.map((e) => ({ kind: e === "onnx" ? "model" : e, version: "", features: [] }));
}

/**
 * Where the agent's health endpoint is: the address its join came from (grpc-js getPeer) and the port it
 * named. The liveness probe connects only there (agent-registry.ts). "" when it named none.
 */
export function healthAddress(peer: string, healthPort: number): string {
  const host = peerAddress(peer);
  if (!(Number.isInteger(healthPort) && healthPort >= 1 && healthPort <= 65535) || host === "" || host.includes("/")) return "";
  return host.includes(":") ? `[${host}]:${healthPort}` : `${host}:${healthPort}`;
}

export interface GatewayConnectInfo {
  natsServers: () => string[];
  subjectPrefix: string;
  heartbeatMs: number;
  /** Per-agent NATS credentials (an nkey user issued at enrollment); empty strings when the server has no auth. */
  natsCredentials(agentId: string): Promise<{ user: string; seed: string; jwt: string }>;
}

/** A claim's answer, the same on the unary Claim and on ClaimStream. */
export async function answerClaim(claims: ClaimService, req: ClaimRequest): Promise<ClaimResponse> {
  if (req.next && !claims.answersNext) return { skip: true, reason: "next chunk not answered here", attemptId: "", workJson: "", nextOff: true };
  const r = req.next ? await claims.claimNextBatched(req.agentId, req.nextKey) : await claims.claimBatched(req.agentId, req.chunkId, req.dispatchId, req.delivery);
  return r.skip
    ? { skip: true, reason: r.reason, attemptId: "", workJson: "", nextOff: false }
    : { skip: false, reason: "", attemptId: r.attemptId, workJson: JSON.stringify(r.work), nextOff: false };
}

/** The open claim streams of a gateway, answering as Claim does; the coordinator keeps it to close them at stop. */
export function claimStreamsOf(claims: ClaimService): ClaimStreams {
  return new ClaimStreams((req) => answerClaim(claims, req));
}

/** The AgentGateway service. `streams` holds the open claim streams (the coordinator closes them at stop). */
export function agentGatewayHandler(
  registry: AgentRegistry,
  claims: ClaimService,
  connect: GatewayConnectInfo,
  streams: ClaimStreams = claimStreamsOf(claims),
): AgentGatewayServer {
  return {
    join: (call, callback) => unary<JoinRequest, JoinResponse>(async (req) => {
      const agent = await registry.join({
        agentId: req.agentId,
        name: req.name,
        version: req.version,
        gpus: req.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes, uuid: g.uuid })),
        ramBytes: req.ramBytes,
        cpuCount: req.cpuCount,
        tags: req.tags,
        kinds: joinKinds(req),
        address: healthAddress(call.getPeer(), req.healthPort),
      });
      const creds = await connect.natsCredentials(agent.id);
      return {
        agentId: agent.id,
        natsServers: connect.natsServers(),
        natsUser: creds.user,
        natsPassword: "",
        natsSeed: creds.seed,
        natsUserJwt: creds.jwt,
        subjectPrefix: connect.subjectPrefix,
        heartbeatMs: connect.heartbeatMs,
      };
    })(call, callback),
    claim: unary<ClaimRequest, ClaimResponse>((req) => answerClaim(claims, req)),
    claimStream: streams.handler,
    reportFailure: unary<FailureReport, FailureAck>((req) => ({
      outcome: claims.reportFailure(req.agentId, req.attemptId, req.error, req.handedBack),
    })),
    reportLog: unary<AttemptLogReport, AttemptLogAck>((req) => {
      claims.recordLog(req.agentId, req.attemptId, req.text);
      return {};
    }),
  };
}
