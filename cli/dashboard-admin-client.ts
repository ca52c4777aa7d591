/** Promise-shaped DashboardAdmin client (dashboard login links, webhook test), over the admin's mutual TLS. */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  DashboardAdminClient, type CreateLoginResponse, type TestWebhooksResponse,
} from "../proto/gen/nightshift/v1/dashboard.ts";
import { GRPC_CHANNEL_OPTIONS } from "../shared/grpc-options.ts";
import { adminChannel } from "./admin-credentials.ts";
import { resolveCoordinatorAddress } from "./control-client.ts";
import type { AdminFlags } from "./studio-admin-client.ts";

export async function withDashboardAdmin<T>(flags: AdminFlags, fn: (c: DashboardAdminClient) => Promise<T>): Promise<T> {
  const channel = adminChannel(flags);
  const client = new DashboardAdminClient(resolveCoordinatorAddress(flags), channel.credentials, { ...GRPC_CHANNEL_OPTIONS, ...channel.options });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

const settle = <T>(resolve: (v: T) => void, reject: (e: unknown) => void) => (err: ServiceError | null, res: T) => (err ? reject(err) : resolve(res));

export const createLogin = (c: DashboardAdminClient, role: string): Promise<CreateLoginResponse> =>
  new Promise((resolve, reject) => c.createLogin({ role }, settle(resolve, reject)));

export const testWebhooks = (c: DashboardAdminClient, waitMs: number): Promise<TestWebhooksResponse> =>
  new Promise((resolve, reject) => c.testWebhooks({ waitMs }, new Metadata(), { deadline: Date.now() + waitMs + 10_000 }, settle(resolve, reject)));
