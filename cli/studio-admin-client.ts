import type { ServiceError } from "@grpc/grpc-js";
import {
  StudioAdminClient, type AgentDecision, type AgentRef, type CreateJoinTokenRequest, type CreateJoinTokenResponse,
  type RotateAdminRequest, type RotateAdminResponse,
} from "../proto/gen/nightshift/v1/enrollment.ts";
import { GRPC_CHANNEL_OPTIONS } from "../shared/grpc-options.ts";
import { adminChannel } from "./admin-credentials.ts";
import { resolveCoordinatorAddress } from "./control-client.ts";

export interface AdminFlags {
  coordinator?: string;
  dataDir?: string;
  adminCredentials?: string;
  json?: boolean;
}

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown;

function call<Req, Res>(fn: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Promise-shaped StudioAdmin client (join tokens, approve, remove), over the admin's mutual TLS. */
export class StudioAdmin {
  private readonly client: StudioAdminClient;
  constructor(flags: AdminFlags) {
    const channel = adminChannel(flags);
    this.client = new StudioAdminClient(resolveCoordinatorAddress(flags), channel.credentials, { ...GRPC_CHANNEL_OPTIONS, ...channel.options });
  }
  createJoinToken = (req: CreateJoinTokenRequest) =>
    call<CreateJoinTokenRequest, CreateJoinTokenResponse>(this.client.createJoinToken.bind(this.client), req);
  approveAgent = (agentId: string) => call<AgentRef, AgentDecision>(this.client.approveAgent.bind(this.client), { agentId });
  removeAgent = (agentId: string) => call<AgentRef, AgentDecision>(this.client.removeAgent.bind(this.client), { agentId });
  rotateAdmin = (publicKeyPem: string) =>
    call<RotateAdminRequest, RotateAdminResponse>(this.client.rotateAdminCredentials.bind(this.client), { publicKeyPem });
  close(): void {
    this.client.close();
  }
}

export async function withStudioAdmin<T>(flags: AdminFlags, fn: (admin: StudioAdmin) => Promise<T>): Promise<T> {
  const admin = new StudioAdmin(flags);
  try {
    return await fn(admin);
  } finally {
    admin.close();
  }
}
