import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { MissingDependencyError } from "../errors.ts";

export const NATS_INSTALL_INSTRUCTION =
  "install nats-server (Debian/Ubuntu: `sudo apt-get update && sudo apt-get install -y nats-server`; " +
  "elsewhere: https://docs.nats.io/running-a-nats-service/introduction/installation), " +
  "or point NIGHTSHIFT_NATS_SERVER (or `natsServer` in the coordinator config) at the binary";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds a nats-server binary: explicit path, $NIGHTSHIFT_NATS_SERVER, $PATH, then /usr/sbin and /usr/local/bin. */
export function findNatsServer(explicit?: string): string {
  const candidates: string[] = [];
  if (explicit) candidates.push(explicit);
  if (process.env.NIGHTSHIFT_NATS_SERVER) candidates.push(process.env.NIGHTSHIFT_NATS_SERVER);
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir) candidates.push(join(dir, "nats-server"));
  candidates.push("/usr/sbin/nats-server", "/usr/local/bin/nats-server", "/usr/bin/nats-server");
  for (const c of candidates) if (isExecutable(c)) return c;
  throw new MissingDependencyError("nats-server not found", NATS_INSTALL_INSTRUCTION);
}
