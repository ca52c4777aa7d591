/**
 * The dashboard's listener: the Hono app on Node's http server, or https with
 * a certificate from the studio CA when it listens beyond loopback. Hands out
 * login links (the token in a URL the admin opens once) and samples agents'
 * power for the live chart.
 */
import { createServer as createHttpsServer } from "node:https";
import { hostname, networkInterfaces } from "node:os";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { Logger } from "../../shared/log.ts";
import type { HttpListen } from "../config/http-listen.ts";
import type { StudioCa } from "../trust/studio-ca.ts";
import type { TelemetryService } from "../telemetry/telemetry-service.ts";
import { dashboardApp, type DashboardAppDeps } from "./dashboard-app.ts";
import type { DashboardRole } from "./dashboard-sessions.ts";
import type { WattsHistory } from "./watts-history.ts";

export interface DashboardServerOptions extends Omit<DashboardAppDeps, "allowedHosts" | "secure"> {
  listen: HttpListen;
  ca: StudioCa;
  telemetry: TelemetryService;
  watts: WattsHistory;
  log: Logger;
}

export interface DashboardServer {
  /** http(s)://host:port/ */
  readonly url: string;
  /** A one-time login link for `role`. */
  loginLink(role: DashboardRole): { url: string; expiresAt: number };
  close(): Promise<void>;
}

const WILDCARD = new Set(["0.0.0.0", "::", ""]);

/** The IPs a wildcard listener answers on, or just the host given. */
function hostIps(host: string): string[] {
  if (!WILDCARD.has(host)) return [host];
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined)
    .map((i) => i.address);
}

const bracket = (h: string): string => (h.includes(":") ? `[${h}]` : h);

export async function startDashboardServer(o: DashboardServerOptions): Promise<DashboardServer> {
  const ips = hostIps(o.listen.host);
  const names = [hostname(), `${hostname()}.local`, "localhost"];
  const tls = o.listen.tls ? await o.ca.issueServerCertificate({ ips, dnsNames: names.filter((n) => n !== "localhost") }) : undefined;
  const allowed = new Set<string>();
  const app = dashboardApp({ ...o, allowedHosts: allowed, secure: tls !== undefined });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({
      fetch: app.fetch,
      hostname: o.listen.host,
      port: o.listen.port,
      ...(tls ? { createServer: createHttpsServer, serverOptions: { key: tls.keyPem, cert: tls.certPem } } : {}),
    });
    s.once("error", reject);
    s.once("listening", () => {
      s.off("error", reject);
      resolve(s);
    });
  });
  const port = (server.address() as AddressInfo).port;
  for (const h of [...ips, "127.0.0.1", "::1", ...names]) allowed.add(`${bracket(h)}:${port}`.toLowerCase());
  const shownHost = WILDCARD.has(o.listen.host) ? (o.listen.tls ? hostname() : "127.0.0.1") : o.listen.host;
  const url = `${tls ? "https" : "http"}://${bracket(shownHost)}:${port}/`;
  const stopWatts = o.telemetry.onSample((agentId, t) => o.watts.record(agentId, t));
  o.log.info({ url }, "dashboard listening");
  let closed: Promise<void> | undefined;
  return {
    url,
    loginLink(role) {
      const { token, expiresAt } = o.sessions.createLogin(role);
      return { url: `${url}login?token=${encodeURIComponent(token)}`, expiresAt };
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        stopWatts();
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
