import type { Command } from "commander";
import type { Control } from "../control-client.ts";

export interface ClientFlags {
  coordinator?: string;
  dataDir?: string;
  json?: boolean;
  adminCredentials?: string;
}

/** Adds --coordinator / --data-dir / --json to a client command. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option("--coordinator <host:port>", "coordinator address")
    .option("--data-dir <dir>", "coordinator data dir (finds the address of a running coordinator)")
    .option("--json", "print JSON")
    .option("--admin-credentials <dir>", "admin certificate folder (a copy of the coordinator's <data-dir>/admin)");
}

export async function withControl<T>(flags: ClientFlags, fn: (c: Control) => Promise<T>): Promise<T> {
  // gRPC and the TLS code load only in the commands that talk to a coordinator (`nightshift --help` stays fast).
  const [{ Control, resolveCoordinatorAddress }, { adminChannel }] = await Promise.all([import("../control-client.ts"), import("../admin-credentials.ts")]);
  const c = new Control(resolveCoordinatorAddress(flags), adminChannel(flags));
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
