import { writeFileAtomic } from "../../shared/tls/secret-file.ts";

/**
 * Writes a rendered nats-server config atomically with mode 0600: it names
 * every agent's public key and permissions (nothing secret, nobody else's
 * business). Send nats-server SIGHUP afterwards to reload;
 * the server closes connections of users that are no longer listed.
 */
export async function writeNatsConfigFile(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text, 0o600);
}
