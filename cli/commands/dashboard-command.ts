/** `nightshift dashboard`: a one-time login link for the coordinator's web page, and `nightshift webhook test`. */
import type { Command } from "commander";
import { clientOptions, printJson } from "./client-options.ts";
import type { AdminFlags } from "../studio-admin-client.ts";
import { EXIT_FAILURE } from "../exit-codes.ts";

export function registerDashboard(program: Command): void {
  clientOptions(program.command("dashboard").description("print a one-time login link for the dashboard (opened once, it becomes a session cookie)"))
    .option("--role <role>", "viewer (see everything, pause and resume jobs) or admin (also cancel, approve and remove agents, join tokens)", "admin")
    .action(async (flags: AdminFlags & { role: string }) => {
      // gRPC and the coordinator's session code load here, not at start (nightshift --help stays light).
      const { parseRole } = await import("../../coordinator/dashboard/dashboard-sessions.ts");
      const { createLogin, withDashboardAdmin } = await import("../dashboard-admin-client.ts");
      const role = parseRole(flags.role);
      const r = await withDashboardAdmin(flags, (c) => createLogin(c, role));
      const expiresAt = new Date(r.expiresAtMs).toISOString();
      if (flags.json) return printJson({ url: r.url, role: r.role, expiresAt });
      process.stdout.write(`${r.url}\n(${r.role}; works once, until ${expiresAt})\n`);
    });

  const webhook = program.command("webhook").description("the coordinator's webhooks (`webhooks:` in its config)");
  clientOptions(webhook.command("test").description("send a test notification to every configured webhook and wait for the deliveries"))
    .option("--wait <seconds>", "how long to wait for the deliveries", "10")
    .action(async (flags: AdminFlags & { wait: string }) => {
      const { testWebhooks, withDashboardAdmin } = await import("../dashboard-admin-client.ts");
      const waitMs = Math.min(60, Math.max(1, Number(flags.wait) || 10)) * 1000;
      const r = await withDashboardAdmin(flags, (c) => testWebhooks(c, waitMs));
      if (flags.json) printJson(r.deliveries);
      else for (const d of r.deliveries) process.stdout.write(`${d.state.padEnd(9)} ${d.url}  tries ${d.attempts}${d.lastError ? `  ${d.lastError}` : ""}\n`);
      if (r.deliveries.some((d) => d.state !== "delivered")) process.exitCode = EXIT_FAILURE;
    });
  for (const c of webhook.commands) c.exitOverride();
}
