import { credentials as grpcCredentials, type ChannelCredentials, type ChannelOptions, type ServiceError } from "@grpc/grpc-js";
import { AgentGatewayClient, type ClaimRequest, type ClaimResponse, type FailureAck, type FailureReport, type JoinRequest, type JoinResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { ResultSinkClient } from "../../proto/gen/nightshift/v1/sink.ts";
import { GRPC_CHANNEL_OPTIONS } from "../../shared/grpc-options.ts";

function promisify<Req, Res>(fn: (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** The agent's gRPC connection to the coordinator: gateway calls and the result sink client. */
export class CoordinatorClient {
  readonly gateway: AgentGatewayClient;
  readonly sink: ResultSinkClient;

  constructor(
    readonly address: string,
    creds: ChannelCredentials = grpcCredentials.createInsecure(),
    /** Extra channel options (the TLS name the studio's mutual TLS checks). */
    channelOptions: ChannelOptions = {},
  ) {
    this.gateway = new AgentGatewayClient(address, creds, { ...GRPC_CHANNEL_OPTIONS, ...channelOptions });
    this.sink = new ResultSinkClient(address, creds, { ...GRPC_CHANNEL_OPTIONS, ...channelOptions });
  }

  join(req: JoinRequest): Promise<JoinResponse> {
    return promisify<JoinRequest, JoinResponse>(this.gateway.join.bind(this.gateway), req);
  }

  claim(agentId: string, chunkId: string, dispatchId: string, delivery: number): Promise<ClaimResponse> {
    return promisify<ClaimRequest, ClaimResponse>(this.gateway.claim.bind(this.gateway), { agentId, chunkId, dispatchId, delivery });
  }

  async reportFailure(agentId: string, attemptId: string, error: string, handedBack: boolean): Promise<string> {
    const ack = await promisify<FailureReport, FailureAck>(this.gateway.reportFailure.bind(this.gateway), { agentId, attemptId, error, handedBack });
    return ack.outcome;
  }

  close(): void {
    this.gateway.close();
    this.sink.close();
  }
}
