/** Assembles the dashboard from the coordinator's parts: sessions, views, actions, thumbnails, bundle, listener. */
import { join } from "node:path";
import type { EventEmitter } from "node:events";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { CoordinatorConfig } from "../config/coordinator-config.ts";
import type { ControlApi } from "../control/control-api.ts";
import type { Store } from "../store/store.ts";
import type { StudioTrust } from "../trust/studio-trust.ts";
import type { EnrollmentService } from "../trust/enrollment-service.ts";
import type { TelemetryService } from "../telemetry/telemetry-service.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";
import type { WebhookOutbox } from "../notify/webhook-outbox.ts";
import { DashboardSessions } from "./dashboard-sessions.ts";
import { DashboardViews } from "./dashboard-views.ts";
import { DashboardActions } from "./dashboard-actions.ts";
import { Thumbnails } from "./thumbnails.ts";
import { loadDashboardAssets } from "./dashboard-assets.ts";
import { WattsHistory } from "./watts-history.ts";
import { startDashboardServer, type DashboardServer } from "./dashboard-server.ts";

export interface DashboardParts {
  config: CoordinatorConfig;
  api: ControlApi;
  store: Store;
  trust: StudioTrust;
  enrollment: EnrollmentService;
  telemetry: TelemetryService;
  live: ReadonlyMap<string, Heartbeat>;
  jobChanges: EventEmitter;
  outbox: WebhookOutbox;
  clock: Clock;
  log: Logger;
}

export async function startDashboard(p: DashboardParts): Promise<DashboardServer> {
  const watts = new WattsHistory();
  const views = new DashboardViews({ api: p.api, store: p.store, telemetry: p.telemetry, live: p.live, watts, notifications: () => p.outbox.recent() });
  const actions = new DashboardActions({
    api: p.api,
    store: p.store,
    enrollment: p.enrollment,
    tokens: p.trust.tokens,
    caFingerprint: p.trust.caFingerprint,
    thumbnails: new Thumbnails(join(p.config.dataDir, "thumbnails")),
    outputRoot: p.config.outputRoot,
  });
  return startDashboardServer({
    listen: p.config.http,
    ca: p.trust.ca,
    telemetry: p.telemetry,
    watts,
    sessions: new DashboardSessions(p.clock),
    views,
    actions,
    assets: loadDashboardAssets(),
    jobChanges: p.jobChanges,
    tickMs: 500,
    log: p.log,
  });
}
