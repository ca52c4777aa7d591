import { randomBytes } from "node:crypto";
import { writeFileAtomic } from "../../shared/tls/secret-file.ts";

/** A fresh NATS password: 192 random bits, base64url (no characters the config format treats specially). */
export function newNatsPassword(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * Writes a rendered nats-server config atomically with mode 0600: it holds
 * every agent's NATS password. Send nats-server SIGHUP afterwards to reload;
 * the server closes connections of users that are no longer listed.
 */
export async function writeNatsConfigFile(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text, 0o600);
}
