/** DashboardAdmin over gRPC (admin certificate only): login links for the dashboard, and a test of the webhooks. */
import type {
  CreateLoginRequest, CreateLoginResponse, DashboardAdminServer, TestWebhooksRequest, TestWebhooksResponse,
} from "../../proto/gen/nightshift/v1/dashboard.ts";
import { BadInputError } from "../../shared/errors.ts";
import { parseRole } from "../dashboard/dashboard-sessions.ts";
import type { DashboardServer } from "../dashboard/dashboard-server.ts";
import type { WebhookOutbox } from "../notify/webhook-outbox.ts";
import { unary } from "./grpc-errors.ts";

export function dashboardAdminHandler(dashboard: () => DashboardServer, outbox: WebhookOutbox): DashboardAdminServer {
  return {
    createLogin: unary<CreateLoginRequest, CreateLoginResponse>((req) => {
      const role = parseRole(req.role || "viewer");
      const link = dashboard().loginLink(role);
      return { url: link.url, expiresAtMs: link.expiresAt, role };
    }),
    testWebhooks: unary<TestWebhooksRequest, TestWebhooksResponse>(async (req) => {
      if (!outbox.configured) throw new BadInputError("no webhooks configured: add `webhooks:` to the coordinator's config", { field: "webhooks" });
      const ids = outbox.notify("webhook.test", `test:${Date.now()}:${Math.random()}`, { message: "a test notification from nightshift webhook test" });
      const rows = await outbox.settle(ids, Math.min(60_000, req.waitMs > 0 ? req.waitMs : 10_000));
      return { deliveries: rows.map((r) => ({ url: r.url, state: r.state, attempts: r.attempts, lastError: r.lastError ?? "" })) };
    }),
  };
}
