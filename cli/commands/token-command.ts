import type { Command } from "commander";
import { BadInputError } from "../../shared/errors.ts";
import { clientOptions, printJson } from "./client-options.ts";
import type { AdminFlags } from "../studio-admin-client.ts";
import { parseHostPort } from "../../shared/host-port.ts";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "24h", "7d" (or "never") as milliseconds; null for never. */
export function parseTtl(text: string): number | null {
  if (text.trim().toLowerCase() === "never") return null;
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(text.trim());
  const ms = m ? Number(m[1]) * (UNIT_MS[(m[2] as string).toLowerCase()] as number) : NaN;
  if (!(ms >= 1000 && ms <= 366 * 86_400_000)) {
    throw new BadInputError(`--ttl: expected a duration like 90s, 30m, 24h or 7d (1 s to 366 d), or "never"; got '${text}'`, { field: "ttl" });
  }
  return Math.round(ms);
}

export function registerToken(program: Command): void {
  const token = program.command("token").description("join tokens that let new agents enroll");
  clientOptions(token.command("create").description("create a join token (prints it once, with the studio CA fingerprint)"))
    .option("--ttl <duration>", "how long it works: 90s, 30m, 24h, 7d, or never", "24h")
    .option("--multi-use", "usable by any number of agents until it expires (default: one agent)")
    .option("--label <text>", "a note kept with the token")
    .action(async (flags: AdminFlags & { ttl: string; multiUse?: boolean; label?: string }) => {
      const ttl = parseTtl(flags.ttl);
      const [{ withStudioAdmin }, { resolveCoordinatorAddress }] = await Promise.all([import("../studio-admin-client.ts"), import("../control-client.ts")]);
      const r = await withStudioAdmin(flags, (admin) =>
        admin.createJoinToken({ ttlMs: ttl ?? 0, neverExpires: ttl === null, multiUse: flags.multiUse === true, label: flags.label ?? "" }),
      );
      const expiresAt = r.expiresAtMs > 0 ? new Date(r.expiresAtMs).toISOString() : null;
      if (flags.json) return printJson({ token: r.token, caFingerprint: r.caFingerprint, expiresAt, multiUse: r.multiUse, enrollPort: r.enrollPort });
      const address = resolveCoordinatorAddress(flags);
      const { host, port } = parseHostPort(address, "coordinator");
      const enroll = r.enrollPort === port + 1 ? "" : ` --enroll ${host.includes(":") ? `[${host}]` : host}:${r.enrollPort}`;
      process.stdout.write(
        [
          `token:          ${r.token}`,
          `ca fingerprint: ${r.caFingerprint}`,
          `expires:        ${expiresAt ?? "never"}${r.multiUse ? " (multi-use)" : " (single use)"}`,
          "",
          "on the new agent (finds this coordinator by mDNS):",
          `  nightshift agent --join-token ${r.token} --ca-fingerprint ${r.caFingerprint}`,
          "or, without mDNS:",
          `  nightshift agent --coordinator ${address}${enroll} --join-token ${r.token} --ca-fingerprint ${r.caFingerprint}`,
          "",
        ].join("\n"),
      );
    });
  for (const c of token.commands) c.exitOverride();
}
