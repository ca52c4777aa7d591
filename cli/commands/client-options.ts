import type { Command } from "commander";
import { Control, resolveCoordinatorAddress } from "../control-client.ts";
import { adminChannel } from "../admin-credentials.ts";

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
