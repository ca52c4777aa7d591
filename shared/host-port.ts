import { BadInputError } from "./errors.ts";

/** Parses "host:port", "[::1]:port" or ":port" (host 0.0.0.0). Port 0 = ephemeral. */
export function parseHostPort(text: string, field: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new BadInputError(`${field}: expected HOST:PORT, got '${text}'`, { field });
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}
